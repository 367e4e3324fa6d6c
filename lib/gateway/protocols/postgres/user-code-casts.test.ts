import { beforeAll, describe, expect, it } from "vitest";
import { initClassifier } from "./classify";
import { codeNamesOf } from "./user-code";

/** A cast whose operand's type the text gives is looked up from that type only (metadata.ts CAST_PAIR_CODE). */
describe("codeNamesOf: casts and their operand types", () => {
  beforeAll(() => initClassifier());
  const casts = (sql: string) => codeNamesOf(sql)?.cast;

  it("gives the operand's type of a literal or of another cast", () => {
    expect(casts("SELECT 'x'::text")).toEqual([{ name: "text", from: { schema: "pg_catalog", name: "unknown" } }]);
    expect(casts("SELECT NULL::text")).toEqual([{ name: "text", from: { schema: "pg_catalog", name: "unknown" } }]);
    expect(casts("SELECT 1::text")).toEqual([{ name: "text", from: { schema: "pg_catalog", name: "int4" } }]);
    expect(casts("SELECT true::text")).toEqual([{ name: "text", from: { schema: "pg_catalog", name: "bool" } }]);
    expect(casts("SELECT CAST('(x)'::wrap AS public.text)")).toEqual(expect.arrayContaining([{ schema: "public", name: "text", from: { name: "wrap" } }]));
  });

  it("gives none where the text does not say, so every cast to the target counts", () => {
    for (const sql of ["SELECT x::text FROM t", "SELECT f()::text", "SELECT $1::text", "SELECT 10000000000::text", "SELECT 1.5::text", "SELECT '{}'::int[]::text", "SELECT 'x'::text[]"])
      expect(casts(sql)?.some((c) => c.from), sql).toBe(false);
  });

  it("keeps a cast with and without a known operand apart", () => {
    expect(casts("SELECT 'x'::text, y::text FROM t")).toEqual([{ name: "text", from: { schema: "pg_catalog", name: "unknown" } }, { name: "text" }].reverse());
  });
});
