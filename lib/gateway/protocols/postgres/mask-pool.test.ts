import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { compileMasker, type ColumnRef, type Masker, type MaskingRule } from "@/lib/gateway/masking";
import { MaskPool } from "./mask-pool";
import { maskRow, type FieldPlan } from "./masking";
import { build } from "./wire";

const rule = (over: Partial<MaskingRule> & Pick<MaskingRule, "id">): MaskingRule => ({ name: over.id, enabled: true, detectors: [], columns: [], style: "redact", ...over });
const RULES = [
  rule({ id: "ssn-column", columns: ["*.ssn"] }),
  rule({ id: "contact", detectors: ["email", "phone"], style: "hash" }),
  rule({ id: "cards", detectors: ["card", "ssn"], style: "partial", keepLast: 4 }),
  rule({ id: "note-words", columns: ["*.note"], dictionary: ["secret"], style: "redact" }),
];
const ref = (column: string): ColumnRef => ({ connection: "prod", schema: "public", table: "people", column });
const COLUMNS = ["id", "email", "ssn", "note"];

function plansOf(masker: Masker): FieldPlan[] {
  const fields: FieldPlan[] = COLUMNS.map((c) => {
    const plan = masker.columnPlan(ref(c));
    return { plans: plan ? [plan] : [], refs: plan ? [ref(c)] : [], binary: false, label: c };
  });
  fields.push({ plans: [], refs: [], binary: false, label: "expr" }); // no column: the backstop alone
  fields.push({ plans: [], refs: [], binary: true, label: "bin" }); // binary: withheld
  return fields;
}

function inline(masker: Masker, plans: FieldPlan[], rows: (string | null)[][]): Buffer {
  return Buffer.concat(
    rows.map((r) => {
      const values = r.map((v) => (v === null ? null : Buffer.from(v)));
      const out = maskRow(values, plans, masker);
      return out ? build.dataRow(out.values) : build.dataRow(values);
    }),
  );
}

const cell = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 30 }),
  fc.emailAddress(),
  fc.constantFrom("4111 1111 1111 1111", "078-05-1120", "+1 555-123-4567", "a secret note", "é😀", ""),
);

describe("MaskPool: masking in a worker thread equals masking inline", () => {
  const pool = new MaskPool(path.join(import.meta.dirname, "mask-worker.ts"));
  afterAll(() => pool.stop());

  it("for any rows: the same bytes out, the same masked-cell count, the same rule counts", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(cell, { minLength: 6, maxLength: 6 }), { minLength: 1, maxLength: 60 }), async (rows) => {
        const here = compileMasker(RULES, { hashKey: "k" });
        const there = compileMasker(RULES, { hashKey: "k" });
        const want = inline(here, plansOf(here), rows);
        const frames = rows.map((r) => build.dataRow(r.map((v) => (v === null ? null : Buffer.from(v)))));
        const got = await pool.mask(there, plansOf(there), frames);
        expect(got.out.equals(want)).toBe(true);
        expect(there.counts()).toEqual(here.counts());
      }),
      { numRuns: 60 },
    );
  });

  it("fails closed: a frame that is not a DataRow, or a cut one, rejects the whole job", async () => {
    const masker = compileMasker(RULES, { hashKey: "k" });
    const plans = plansOf(masker);
    const row = build.dataRow([Buffer.from("1"), Buffer.from("a@example.com"), null, null, null, null]);
    await expect(pool.mask(masker, plans, [row, build.commandComplete("SELECT 1")])).rejects.toThrow(/expected DataRow/);
    await expect(pool.mask(masker, plans, [row, row.subarray(0, row.length - 3)])).rejects.toThrow(/incomplete frame/);
    // the worker survives a refused job
    const ok = await pool.mask(masker, plans, [row]);
    expect(ok.out.toString()).toContain("h_");
  });

  it("is unavailable without a worker file (the relay then masks inline)", () => {
    expect(new MaskPool(null).available).toBe(false);
  });
});
