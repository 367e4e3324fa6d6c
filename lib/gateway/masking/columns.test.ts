import { describe, expect, it } from "vitest";
import { columnKey, columnMatches, parseColumnPattern, type ColumnGlob } from "./columns";
import type { ColumnRef } from "./types";

function glob(pattern: string): ColumnGlob {
  const g = parseColumnPattern(pattern);
  if (typeof g === "string") throw new Error(g);
  return g;
}

const ssn: ColumnRef = { connection: "prod-pg", schema: "public", table: "customers", column: "ssn" };
const expr: ColumnRef = { column: "ssn" }; // e.g. SELECT upper(ssn) AS ssn: no table known

describe("column globs", () => {
  it.each([
    ["ssn", true],
    ["*.ssn", true],
    ["customers.ssn", true],
    ["customers.*", true],
    ["cust*.s*n", true],
    ["public.customers.ssn", true],
    ["*.*.ssn", true],
    ["prod-pg/public/customers/ssn", true],
    ["prod-*/*/customers/*", true],
    ["CUSTOMERS.SSN", true],
    ["orders.ssn", false],
    ["customers.email", false],
    ["other.customers.ssn", false],
    ["staging/public/customers/ssn", false],
    ["ss", false],
  ])("%s matches customers.ssn: %s", (pattern, expected) => {
    expect(columnMatches(glob(pattern), ssn)).toBe(expected);
  });

  it("lets '*' match an unknown level but not a named part", () => {
    expect(columnMatches(glob("*.ssn"), expr)).toBe(true);
    expect(columnMatches(glob("ssn"), expr)).toBe(true);
    expect(columnMatches(glob("customers.ssn"), expr)).toBe(false);
    expect(columnMatches(glob("customers.*"), expr)).toBe(false);
  });

  it("treats regex characters in names literally", () => {
    expect(columnMatches(glob("a+b.c"), { table: "a+b", column: "c" })).toBe(true);
    expect(columnMatches(glob("a+b.c"), { table: "aab", column: "c" })).toBe(false);
  });

  it("matches like the glob it is, stars anywhere, case-insensitively", () => {
    const col = (column: string) => ({ column });
    for (const [pattern, value, expected] of [
      ["*card*number*", "credit_card_number", true],
      ["*card*number*", "numbercard", false],
      ["a*a", "a", false],
      ["a*a", "aa", true],
      ["**", "x", true],
      ["a**b", "ab", true],
      ["*SSN", "customer_ssn", true],
      ["ab*bc", "abc", false],
      ["ab*bc", "abbc", true],
    ] as const) {
      expect({ pattern, value, matches: columnMatches(glob(pattern), col(value)) }).toEqual({ pattern, value, matches: expected });
    }
  });

  it("a glob full of stars against a long name answers at once (no regex backtracking)", () => {
    const pattern = "*a".repeat(120) + "*b";
    expect(columnMatches(glob(pattern), { column: "a".repeat(200) })).toBe(false);
    expect(columnMatches(glob(pattern), { column: "a".repeat(200) + "b" })).toBe(true);
  });

  it("reports malformed patterns", () => {
    expect(parseColumnPattern("")).toMatch(/empty/);
    expect(parseColumnPattern("a.b.c.d")).toMatch(/schema.table.column/);
    expect(parseColumnPattern("a/b/c")).toMatch(/4 parts/);
    expect(parseColumnPattern("a..b")).toMatch(/empty part/);
    expect(parseColumnPattern("x".repeat(300))).toMatch(/longer/);
  });

  it("keys counts by table.column", () => {
    expect(columnKey(ssn)).toBe("customers.ssn");
    expect(columnKey(expr)).toBe("ssn");
  });
});
