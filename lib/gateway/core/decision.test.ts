import { describe, expect, it } from "vitest";
import { compileMasker, type MaskingRule } from "@/lib/gateway/masking";
import { maskedRefusal } from "./decision";
import type { ClassifiedRequest } from "./types";

const rule = (name: string, more: Partial<MaskingRule> = {}): MaskingRule => ({ id: name, name, enabled: true, detectors: [], columns: ["customers.ssn"], style: "redact", blockInference: true, ...more });
const request: ClassifiedRequest = { action: "read", kind: "read", tables: [], functions: [], text: "SELECT 1" };

describe("maskedRefusal", () => {
  it("hands the inference check the rules the masker applies on its channel", async () => {
    const seen: string[][] = [];
    const masker = compileMasker([rule("sql-only", { appliesTo: ["sql"] }), rule("terminal-only", { appliesTo: ["terminal"] }), rule("everywhere")], { hashKey: "k", channel: "sql" });
    expect(await maskedRefusal({ ...request, inference: async (rules) => (seen.push(rules.map((r) => r.name)), null) }, masker)).toBeNull();
    expect(seen).toEqual([["sql-only", "everywhere"]]);
  });

  it("refuses when the check says why, or throws; nothing to check without masking", async () => {
    const masker = compileMasker([rule("r")], { hashKey: "k", channel: "sql" });
    expect(await maskedRefusal({ ...request, inference: async () => "column ssn in WHERE" }, masker)).toBe("column ssn in WHERE");
    expect(await maskedRefusal({ ...request, inference: () => Promise.reject(new Error("bug")) }, masker)).toMatch(/could not be analysed/);
    expect(await maskedRefusal({ ...request, inference: async () => "column ssn in WHERE" }, null)).toBeNull();
  });
});
