import { describe, expect, it } from "vitest";
import { isStoreUnavailable } from "./unavailable";

describe("isStoreUnavailable", () => {
  const coded = (code: string) => Object.assign(new Error(code), { code });
  it("knows a database that is down, restarting or cut off, through drizzle's wrapping", () => {
    for (const code of ["ECONNREFUSED", "ECONNRESET", "CONNECTION_CLOSED", "CONNECT_TIMEOUT", "57P01", "57P03", "08006"]) {
      expect(isStoreUnavailable(coded(code)), code).toBe(true);
      expect(isStoreUnavailable(Object.assign(new Error("Failed query: select 1"), { cause: coded(code) })), `wrapped ${code}`).toBe(true);
    }
  });
  it("does not take a wrong query, a constraint or a plain bug for an outage", () => {
    for (const err of [coded("23505"), coded("42P01"), coded("40001"), new TypeError("x is undefined"), null, "ECONNREFUSED", { code: 5 }]) {
      expect(isStoreUnavailable(err)).toBe(false);
    }
  });
});
