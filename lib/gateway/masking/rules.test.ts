import { describe, expect, it } from "vitest";
import { DETECTORS, DETECTOR_NAMES } from "./catalog";
import { validateRule } from "./rules";

const base = { id: "r1", name: "Customer PII", style: "redact" };

describe("validateRule", () => {
  it("accepts a minimal rule and fills defaults", () => {
    const v = validateRule({ ...base, detectors: ["email", "card"] });
    expect(v).toEqual({ ok: true, rule: { ...base, enabled: true, detectors: ["email", "card"], columns: [] } });
  });

  it("accepts every documented field", () => {
    const v = validateRule({
      ...base,
      enabled: false,
      detectors: [...DETECTOR_NAMES],
      columns: ["customers.ssn", "prod/public/orders/*"],
      style: "partial",
      keepLast: 2,
      regexes: ["EMP-\\d{6}"],
      dictionary: ["Project Apollo"],
      appliesTo: ["sql", "mcp"],
      blockInference: true,
    });
    expect(v.ok).toBe(true);
  });

  it("blocks inference only over columns, and only with a boolean", () => {
    expect(validateRule({ ...base, columns: ["customers.ssn"], blockInference: true })).toMatchObject({ ok: true, rule: { blockInference: true } });
    expect(validateRule({ ...base, detectors: ["ssn"], blockInference: true })).toEqual({ ok: false, errors: ["blockInference: blocking inference needs columns: it guards the columns the rule names"] });
    expect(validateRule({ ...base, columns: ["customers.ssn"], blockInference: "yes" }).ok).toBe(false);
  });

  it("reports unknown detectors and styles, bad globs and bad regexes together", () => {
    const v = validateRule({ ...base, style: "scramble", detectors: ["email", "dna"], columns: ["a.b.c.d"], regexes: ["(a+)+", "("] });
    expect(v.ok).toBe(false);
    if (v.ok) return;
    expect(v.errors.some((e) => e.startsWith("style:"))).toBe(true);
    expect(v.errors.some((e) => e.startsWith("detectors.1:"))).toBe(true);
    expect(v.errors).toContain('columns.0: "a.b.c.d": use table.column or schema.table.column');
    expect(v.errors.some((e) => e.startsWith("regexes.0:") && e.includes("nests a quantifier"))).toBe(true);
    expect(v.errors.some((e) => e.startsWith("regexes.1:") && e.includes("does not compile"))).toBe(true);
  });

  it("refuses a rule that masks nothing, unknown keys and out-of-range keepLast", () => {
    expect(validateRule(base)).toEqual({ ok: false, errors: ["rule: a rule needs columns, detectors, regexes or a dictionary"] });
    expect(validateRule({ ...base, detectors: ["email"], colour: "red" }).ok).toBe(false);
    expect(validateRule({ ...base, detectors: ["email"], keepLast: -1 }).ok).toBe(false);
    expect(validateRule({ ...base, detectors: ["email"], appliesTo: [] }).ok).toBe(false);
    expect(validateRule(null).ok).toBe(false);
  });
});

describe("detector catalog", () => {
  it("describes every detector exactly once, in kind order", () => {
    expect(DETECTORS.map((d) => d.name)).toEqual([...DETECTOR_NAMES]);
    for (const d of DETECTORS) expect(d.description.length).toBeGreaterThan(20);
  });
});
