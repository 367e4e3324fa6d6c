import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import type { UpstreamMetadata } from "./metadata";
import { userCodeCalled, userCodeRefusal } from "./user-code";

/**
 * A catalog where the view `v_seq` calls nextval, `v_lock` pg_advisory_lock, `v_remote` dblink,
 * and the table `ledger` has a serial column (nextval in its default): built-ins the function
 * rules classify, reached without the statement naming them.
 */
const catalog = {
  userCode: async (kind: string, ref: { name: string }) => {
    if (kind !== "reads" && kind !== "relation") return [];
    if (ref.name === "v_seq") return ["builtin:pg_catalog.nextval"];
    if (ref.name === "v_lock") return ["builtin:pg_catalog.pg_advisory_lock"];
    if (ref.name === "v_remote") return ["builtin:public.dblink"];
    if (ref.name === "ledger" && kind === "relation") return ["builtin:pg_catalog.nextval"];
    return [];
  },
} as unknown as UpstreamMetadata;

describe("built-ins the function rules classify, reached through code the statement does not name", () => {
  beforeAll(() => initClassifier());

  it("a read of a view that calls nextval is not a read", async () => {
    expect(await userCodeCalled("select * from v_seq", catalog, () => null, "read")).toContain("the built-in pg_catalog.nextval");
  });

  it("a write is a write whatever nextval its column defaults call, but not when it takes an advisory lock", async () => {
    expect(await userCodeCalled("insert into ledger (amount) values (1)", catalog, () => null, "write")).toBeNull();
    expect(await userCodeCalled("insert into ledger (amount) select 1 from v_lock", catalog, () => null, "write")).toContain("pg_advisory_lock");
  });

  it("under masking only a built-in whose result masking cannot follow is refused", async () => {
    expect(await userCodeRefusal("select * from v_seq", catalog, () => null, "read")).toBeNull();
    expect(await userCodeRefusal("select * from v_remote", catalog, () => null, "read")).toContain("dblink");
  });
});
