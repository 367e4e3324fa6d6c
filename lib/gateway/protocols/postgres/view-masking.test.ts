import { describe, expect, it } from "vitest";
import { compileMasker } from "@/lib/gateway/masking/masker";
import type { MaskingRule } from "@/lib/gateway/masking/types";
import { buildFieldPlans, maskRow } from "./masking";
import type { ColumnName, UpstreamMetadata, ViewLineage } from "./metadata";
import type { FieldDescription } from "./wire";

/**
 * A view's column is masked as the columns it is made of (the catalog side, pg_get_viewdef and
 * its lineage, is tested against a real PostgreSQL in tests/integration/postgres-bypass-hunt).
 * Here: how buildFieldPlans follows what the metadata answers, and that a view it cannot follow
 * withholds the field instead of guessing.
 */
const rule: MaskingRule = { id: "pw", name: "pw", enabled: true, detectors: [], columns: ["accounts.password_hash"], style: "redact" };
const masker = compileMasker([rule], { hashKey: "k" });

const VIEW_OID = 900;
const views: Record<string, ViewLineage> = {
  "public.acct_v": { schema: "public", view: "acct_v", columns: new Map([["secret", ["accounts.password_hash"]], ["login", ["accounts.login"]]]) },
  "public.acct_vv": { schema: "public", view: "acct_vv", columns: new Map([["shout", ["acct_v.secret", "unknown"]]]) },
  "public.weird": "opaque",
};
const attrs: Record<string, ColumnName> = {
  [`${VIEW_OID}:1`]: { schema: "public", table: "acct_v", column: "secret", view: true },
  [`${VIEW_OID}:2`]: { schema: "public", table: "acct_v", column: "login", view: true },
  "901:1": { schema: "public", table: "weird", column: "x", view: true },
};

function fakeMetadata(opts: { failViews?: boolean } = {}): UpstreamMetadata {
  return {
    async columns(pairs: { oid: number; attnum: number }[]) {
      return new Map(pairs.map((p) => [`${p.oid}:${p.attnum}`, attrs[`${p.oid}:${p.attnum}`] ?? null]));
    },
    async tableColumns() {
      return null;
    },
    async viewLineage(name: string) {
      if (opts.failViews) throw new Error("connection reset");
      // as to_regclass resolves it on the metadata connection (search_path: public)
      return views[name.includes(".") ? name : `public.${name}`] ?? null;
    },
  } as unknown as UpstreamMetadata;
}

const field = (name: string, tableOid = 0, columnAttr = 0): FieldDescription => ({ name, tableOid, columnAttr, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });
const SECRET = Buffer.from("pbkdf2$Zq9xK7mWvT");

describe("masking through views", () => {
  it("a view's column is masked by the rule on the column it renames", async () => {
    const plans = await buildFieldPlans([field("secret", VIEW_OID, 1), field("login", VIEW_OID, 2)], { masker, metadata: fakeMetadata(), sources: null, connection: "db" });
    expect(maskRow([SECRET, Buffer.from("user1")], plans, masker)?.values.map((v) => v?.toString())).toEqual(["[REDACTED]", "user1"]);
  });

  it("an expression over a view over a view is followed to the base column", async () => {
    const plans = await buildFieldPlans([field("lower")], { masker, metadata: fakeMetadata(), sources: [{ name: "lower", sources: ["acct_vv.shout"] }] as never, connection: "db" });
    expect(maskRow([SECRET], plans, masker)?.values[0]?.toString()).toBe("[REDACTED]");
  });

  it("a view whose definition cannot be followed, or a failed view lookup, withholds the field", async () => {
    const weird = await buildFieldPlans([field("x", 901, 1)], { masker, metadata: fakeMetadata(), sources: null, connection: "db" });
    expect(weird[0].binary).toBe(true);
    const failed = await buildFieldPlans([field("r")], { masker, metadata: fakeMetadata({ failViews: true }), sources: [{ name: "r", sources: ["acct_v.secret"] }] as never, connection: "db" });
    expect(failed[0].binary).toBe(true);
    expect(maskRow([SECRET], failed, masker)?.values).toEqual([null]);
  });

  it("a column of a plain table is not withheld", async () => {
    const plans = await buildFieldPlans([field("n")], { masker, metadata: fakeMetadata(), sources: [{ name: "n", sources: ["accounts.login"] }] as never, connection: "db" });
    expect(plans[0].binary).toBe(false);
    expect(maskRow([Buffer.from("user1")], plans, masker)).toBeNull();
  });
});
