import { describe, expect, it } from "vitest";
import { compileMasker } from "@/lib/gateway/masking/masker";
import type { MaskingRule } from "@/lib/gateway/masking/types";
import { buildFieldPlans, maskRow } from "./masking";
import { lineageOf, type ColumnName, type RelationInfo, type UpstreamMetadata } from "./metadata";
import type { FieldDescription } from "./wire";

/**
 * A view's column is masked as the columns it is made of (the catalog side, pg_get_viewdef and
 * name resolution, is tested against a real PostgreSQL in tests/integration/postgres-bypass-hunt).
 * Here: how buildFieldPlans follows what the metadata answers, that what it cannot follow is
 * withheld instead of guessed at, and that it fails closed when the catalog cannot be read.
 */
const rule: MaskingRule = { id: "pw", name: "pw", enabled: true, detectors: [], columns: ["accounts.password_hash"], style: "redact" };
const masker = compileMasker([rule], { hashKey: "k" });

const table = (name: string, columns: string[], schema = "public"): RelationInfo => ({ schema, name, columns });
const view = (name: string, lineage: Record<string, string[]> | "opaque", schema = "public"): RelationInfo => ({
  schema,
  name,
  columns: lineage === "opaque" ? ["x"] : Object.keys(lineage),
  lineage: lineage === "opaque" ? "opaque" : new Map(Object.entries(lineage)),
});

const CATALOG: RelationInfo[] = [
  table("accounts", ["id", "login", "password_hash"]),
  view("acct_v", { id: ["accounts.id"], login: ["accounts.login"], secret: ["accounts.password_hash"] }),
  view("acct_vv", { shout: ["acct_v.secret", "unknown"] }),
  view("weird", "opaque"),
  // same name in another schema: which one an unqualified name means depends on the client's search_path
  table("keys", ["k"]),
  view("keys", { k: ["acct_v.secret"] }, "vault"),
  // a view whose definition names itself unqualified (another schema's `loop` in truth)
  view("loop", { c: ["loop.c", "accounts.login"] }),
];
const attrs: Record<string, ColumnName> = {
  "900:3": { schema: "public", table: "acct_v", column: "secret", view: true },
  "900:2": { schema: "public", table: "acct_v", column: "login", view: true },
  "901:1": { schema: "public", table: "weird", column: "x", view: true },
};

function fakeMetadata(catalog: RelationInfo[] = CATALOG, opts: { fail?: boolean; lookups?: string[] } = {}): UpstreamMetadata {
  return {
    async columns(pairs: { oid: number; attnum: number }[]) {
      if (opts.fail) throw new Error("too many connections for role");
      return new Map(pairs.map((p) => [`${p.oid}:${p.attnum}`, attrs[`${p.oid}:${p.attnum}`] ?? null]));
    },
    async relations(ref: { schema?: string; name: string }) {
      if (opts.fail) throw new Error("too many connections for role");
      opts.lookups?.push(`${ref.schema ?? ""}.${ref.name}`);
      return catalog.filter((r) => r.name === ref.name && (!ref.schema || r.schema === ref.schema));
    },
  } as unknown as UpstreamMetadata;
}

const field = (name: string, tableOid = 0, columnAttr = 0): FieldDescription => ({ name, tableOid, columnAttr, typeOid: 25, typeSize: -1, typeMod: -1, format: 0 });
const SECRET = Buffer.from("pbkdf2$Zq9xK7mWvT");
const plansFor = (fields: FieldDescription[], sources: string[][] | null, metadata = fakeMetadata()) =>
  buildFieldPlans(fields, { masker, metadata, sources: sources?.map((s, i) => ({ name: `c${i}`, sources: s })) ?? null, connection: "db" });
const shown = (plans: Awaited<ReturnType<typeof plansFor>>, value = SECRET) => (maskRow([value], plans, masker)?.values[0] ?? value)?.toString() ?? null;

describe("masking through views", () => {
  it("a view's column is masked by the rule on the column it renames; its other columns are not", async () => {
    const plans = await plansFor([field("secret", 900, 3), field("login", 900, 2)], null);
    expect(maskRow([SECRET, Buffer.from("user1")], plans, masker)?.values.map((v) => v?.toString())).toEqual(["[REDACTED]", "user1"]);
  });

  it("an expression over a view over a view is followed to the base column", async () => {
    expect(shown(await plansFor([field("lower")], [["acct_vv.shout"]]))).toBe("[REDACTED]");
  });

  it("an unqualified name counts every relation of that name (the client's search_path is its own)", async () => {
    expect(shown(await plansFor([field("k")], [["keys.k"]]))).toBe("[REDACTED]");
    expect(shown(await plansFor([field("k")], [["public.keys.k"]]))).toBe(SECRET.toString());
  });

  it("a whole row of a view carries every column's lineage", async () => {
    expect(shown(await plansFor([field("row_to_json")], [["acct_v.*"]]))).toBe("[REDACTED]");
  });

  it("withholds what the catalog cannot explain: a view it cannot follow, a relation it does not know", async () => {
    expect((await plansFor([field("x", 901, 1)], null))[0].binary).toBe(true);
    expect((await plansFor([field("x")], [["nowhere.x"]]))[0].binary).toBe(true);
    // a column only another candidate has is not a reason to withhold
    expect((await plansFor([field("n")], [["accounts.login", "acct_v.nope"]]))[0].binary).toBe(false);
  });

  it("a definition that loops back through a superset name ends", async () => {
    const plans = await plansFor([field("c")], [["loop.c"]]);
    expect(plans[0].binary).toBe(false);
  });

  it("stacked views are walked once per source and bounded", async () => {
    // 6 levels of 20-column views, each column made of every column of the level below
    const catalog: RelationInfo[] = [table("base", ["password_hash"])];
    let below = "base";
    for (let level = 1; level <= 6; level++) {
      const cols = Array.from({ length: 20 }, (_, i) => `c${i}`);
      const lower = catalog.find((r) => r.name === below)!;
      catalog.push(view(`v${level}`, Object.fromEntries(cols.map((c) => [c, lower.columns.map((x) => `${below}.${x}`)]))));
      below = `v${level}`;
    }
    const lookups: string[] = [];
    const t0 = performance.now();
    const plans = await plansFor([field("c0")], [["v6.*"]], fakeMetadata(catalog, { lookups }));
    // linear in the views' columns: an expansion per path (20^6) would take minutes
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(plans[0].binary).toBe(false);
    expect(lookups.length).toBeLessThanOrEqual(6 * 20 + 2);
  });

  it("fails closed when the catalog cannot be read: the session ends with a clear error", async () => {
    await expect(plansFor([field("secret", 900, 3)], null, fakeMetadata(CATALOG, { fail: true }))).rejects.toMatchObject({ sqlState: "58000", message: expect.stringMatching(/cannot be masked.*too many connections/) });
    await expect(plansFor([field("r")], [["accounts.password_hash"]], fakeMetadata(CATALOG, { fail: true }))).rejects.toMatchObject({ sqlState: "58000" });
  });
});

describe("lineageOf", () => {
  it("maps a view's columns to its definition's outputs; anything it cannot align is opaque", async () => {
    const { initClassifier } = await import("./classify/parser");
    await initClassifier();
    expect(lineageOf(" SELECT accounts.login AS l,\n    accounts.password_hash AS pw\n   FROM accounts;", ["l", "pw"])).toEqual(new Map([["l", ["accounts.login"]], ["pw", ["accounts.password_hash"]]]));
    expect(lineageOf("SELECT 1 AS a;", ["a", "b"])).toBe("opaque");
    expect(lineageOf(null, ["a"])).toBe("opaque");
    expect(lineageOf("not sql at all", ["a"])).toBe("opaque");
  });
});
