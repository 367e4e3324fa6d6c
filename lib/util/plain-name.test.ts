import { describe, expect, it } from "vitest";
import { z } from "zod";
import { isPlainName, plainName } from "./plain-name";

describe("plain names", () => {
  it("refuses direction controls, zero-width characters and terminal controls", () => {
    for (const bad of ["prod\u202ekey", "ad\u200bmin", "x\u2066y\u2069", "\ufeffname", "a\u200ed", "red\u001b[31m", "line\nbreak", "c1\u009b31m", "sep\u2028x"]) {
      expect(isPlainName(bad), JSON.stringify(bad)).toBe(false);
    }
  });
  it("keeps ordinary names, other scripts and emoji", () => {
    for (const good of ["laptop", "CI token (deploy)", "שלום", "مرحبا", "日本", "👍🏽 key", "o'brien-2"]) expect(isPlainName(good), good).toBe(true);
  });
  it("says why in the schema's error", () => {
    const r = plainName(z.string().max(10)).safeParse("a\u202eb");
    expect(r.success).toBe(false);
    expect(r.error?.issues[0].message).toMatch(/text-direction/);
  });
});
