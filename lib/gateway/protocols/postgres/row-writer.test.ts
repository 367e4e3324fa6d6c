import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileMasker, type ColumnRef, type Masker, type MaskingRule } from "@/lib/gateway/masking";
import { maskRow, type FieldPlan } from "./masking";
import { MaskedRowWriter } from "./row-writer";
import { build, FrameReader, parseBackendMessage, type Frame } from "./wire";

/**
 * The masked-row writer is the fast path of masked results (masked-runs.ts, mask-worker.ts); the
 * slow path is parse + maskRow + build.dataRow (the relay's row-by-row path, MCP). For any rows
 * and any plans both must send the same bytes, count the same masked cells and rule matches,
 * and refuse the same malformed frames.
 */

const rule = (over: Partial<MaskingRule> & Pick<MaskingRule, "id">): MaskingRule => ({ name: over.id, enabled: true, detectors: [], columns: [], style: "redact", ...over });
const RULES = [
  rule({ id: "ssn-column", columns: ["*.ssn"] }),
  rule({ id: "gone", columns: ["*.gone"], style: "null" }),
  rule({ id: "hashed", columns: ["*.hashed"], style: "hash" }),
  rule({ id: "tail", columns: ["*.tail"], style: "partial", keepLast: 2 }),
  rule({ id: "contact", detectors: ["email", "phone"], style: "hash" }),
  rule({ id: "cards", detectors: ["card", "ssn", "iban"], style: "partial", keepLast: 4 }),
  rule({ id: "words", columns: ["*.note"], dictionary: ["secret"], style: "redact" }),
];
const COLUMNS = ["id", "email", "ssn", "gone", "hashed", "tail", "note"];
const ref = (column: string): ColumnRef => ({ connection: "prod", schema: "public", table: "people", column });

/** A field's plan: a column's, the backstop alone, withheld binary; bytea or not. */
const fieldSpec = fc.record({ kind: fc.oneof(fc.constantFrom(...COLUMNS), fc.constantFrom("expr", "binary")), bytea: fc.boolean() });
type FieldSpec = { kind: string; bytea: boolean };

function plansOf(masker: Masker, specs: FieldSpec[]): FieldPlan[] {
  return specs.map(({ kind, bytea }) => {
    const plan = COLUMNS.includes(kind) ? masker.columnPlan(ref(kind)) : null;
    return { plans: plan ? [plan] : [], refs: plan ? [ref(kind)] : [], binary: kind === "binary", label: kind, bytea };
  });
}

const hex = (b: Buffer) => Buffer.from("\\x" + b.toString("hex"));
const cell = fc.oneof(
  fc.constant(null),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  fc.emailAddress().map((s) => Buffer.from(s)),
  fc.constantFrom("4111 1111 1111 1111", "078-05-1120", "+1 555-123-4567", "a secret note", "é😀", "", "GB82 WEST 1234 5698 7654 32", "bob＠example.com").map((s) => Buffer.from(s)),
  fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b)), // not always UTF-8
  fc.oneof(fc.emailAddress(), fc.constant("card 4111111111111111")).map((s) => hex(Buffer.from(s))), // a bytea's text form
  fc.uint8Array({ maxLength: 16 }).map((b) => hex(Buffer.from(b))),
  // long text around a match: longer than what the writer copies and encodes by hand
  fc.tuple(fc.string({ maxLength: 100 }), fc.constantFrom("bob@example.com", "4111 1111 1111 1111", "ü"), fc.string({ maxLength: 100 })).map((p) => Buffer.from(p.join(" "))),
);

function frames(bytes: Buffer): Frame[] {
  const reader = new FrameReader();
  reader.push(bytes);
  const out: Frame[] = [];
  for (let f = reader.next(); f; f = reader.next()) out.push(f);
  return out;
}

function slowPath(rows: Frame[], plans: FieldPlan[], masker: Masker): { out: Buffer; masked: number } {
  let masked = 0;
  const out = rows.map((f) => {
    const m = parseBackendMessage(f);
    if (m.type !== "DataRow") throw new Error(`expected DataRow, got ${m.type}`);
    const r = maskRow(m.values, plans, masker);
    masked += r?.masked ?? 0;
    return r ? build.dataRow(r.values) : f.raw;
  });
  return { out: Buffer.concat(out), masked };
}

function fastPath(rows: Frame[], plans: FieldPlan[], masker: Masker, sizeHint: number): { out: Buffer; masked: number } {
  const w = new MaskedRowWriter(plans, masker, sizeHint);
  for (const f of rows) w.row(f);
  return { out: Buffer.from(w.bytes()), masked: w.masked };
}

describe("MaskedRowWriter: the fast path masks exactly what the slow path masks", () => {
  it("for any rows and plans: the same bytes, masked cells and rule counts", () => {
    fc.assert(
      fc.property(
        fc.array(fieldSpec, { minLength: 1, maxLength: 7 }),
        fc.array(fc.array(cell, { minLength: 0, maxLength: 8 }), { minLength: 1, maxLength: 30 }),
        fc.integer({ min: 0, max: 4096 }),
        (specs, rows, sizeHint) => {
          const slow = compileMasker(RULES, { hashKey: "k" });
          const fast = compileMasker(RULES, { hashKey: "k" });
          // rows may have more values than there are plans: an undescribed value is withheld
          const received = frames(Buffer.concat(rows.map((r) => build.dataRow(r))));
          const want = slowPath(received, plansOf(slow, specs), slow);
          const got = fastPath(received, plansOf(fast, specs), fast, sizeHint);
          expect(got.out.equals(want.out)).toBe(true);
          expect(got.masked).toBe(want.masked);
          expect(fast.counts()).toEqual(slow.counts());
        },
      ),
      { numRuns: 400 },
    );
  });

  it("refuses exactly the frames the DataRow parser refuses, and rejects other messages", () => {
    const masker = compileMasker(RULES, { hashKey: "k" });
    const plans = plansOf(masker, COLUMNS.map((kind) => ({ kind, bytea: false })));
    const outcome = (fn: () => Buffer) => {
      try {
        return fn().toString("hex");
      } catch (err) {
        return `error: ${(err as Error).message}`;
      }
    };
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(cell, { maxLength: 3 }), (noise, values) => {
        // a real row with bytes spliced in, or just noise: cut, wrong counts, negative lengths
        const row = build.dataRow(values).subarray(5);
        const body = Buffer.concat([row.subarray(0, noise[0] ?? 0), Buffer.from(noise)]);
        const f: Frame = { tag: "D", body, raw: Buffer.concat([Buffer.from([0x44, 0, 0, 0, 0]), body]) };
        f.raw.writeInt32BE(body.length + 4, 1);
        expect(outcome(() => fastPath([f], plans, masker, 0).out)).toBe(outcome(() => slowPath([f], plans, masker).out));
      }),
      { numRuns: 500 },
    );
    const complete = frames(build.commandComplete("SELECT 1"))[0];
    expect(() => fastPath([complete], plans, masker, 0)).toThrow(/expected DataRow/);
  });

  it("grows its buffer when the masked rows are longer than they came", () => {
    const masker = compileMasker([rule({ id: "all", columns: ["*.*"] })], { hashKey: "k" });
    const plans = plansOf(masker, [{ kind: "id", bytea: false }]);
    const rows = frames(Buffer.concat(Array.from({ length: 200 }, () => build.dataRow([Buffer.from("x")]))));
    const got = fastPath(rows, plans, masker, 1);
    expect(got.masked).toBe(200);
    expect(got.out.equals(Buffer.concat(Array.from({ length: 200 }, () => build.dataRow([Buffer.from("[REDACTED]")]))))).toBe(true);
  });
});
