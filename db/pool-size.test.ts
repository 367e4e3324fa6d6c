import { describe, expect, it } from "vitest";
import { dbPoolSize, MIN_DB_POOL } from "./pool-size";

describe("GATEHOUSE_DB_POOL", () => {
  it("defaults to 10 and takes any whole number from the minimum on", () => {
    expect(dbPoolSize(undefined)).toBe(10);
    expect(dbPoolSize("")).toBe(10);
    expect(dbPoolSize(String(MIN_DB_POOL))).toBe(2);
    expect(dbPoolSize(" 40 ")).toBe(40);
  });

  it("refuses a size a start would hang on, or that is no size at all, naming the setting and its minimum", () => {
    for (const bad of ["1", "0", "-3", "2.5", "abc", "1e3", "0x10", "99999999999999999999"]) {
      expect(() => dbPoolSize(bad), bad).toThrow(/GATEHOUSE_DB_POOL must be a whole number of connections, at least 2/);
    }
  });
});
