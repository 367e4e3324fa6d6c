import { describe, expect, it } from "vitest";
import { compileMasker, DETECTOR_NAMES, type MaskingRule } from "@/lib/gateway/masking";
import { maskRow, type FieldPlan } from "./masking";

const rule: MaskingRule = { id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" };
const masker = compileMasker([rule], { hashKey: "k" });
const hexOf = (s: string, enc: BufferEncoding = "utf8") => "\\x" + Buffer.from(s, enc).toString("hex");
const field = (bytea: boolean): FieldPlan => ({ plans: [], binary: false, label: "b", bytea });

describe("detectors on bytea values in text format", () => {
  it("masks what the bytes say and sends the hex of the masked bytes", () => {
    const out = maskRow([Buffer.from(hexOf("mail alice@example.com, card 4111 1111 1111 1111"))], [field(true)], masker);
    expect(out?.values[0]?.toString()).toBe(hexOf("mail [REDACTED:email], card [REDACTED:card]"));
  });

  it("keeps bytes that are not UTF-8 around a match unchanged", () => {
    const value = "\xff\x00alice@example.com\x80";
    const out = maskRow([Buffer.from(hexOf(value, "latin1"))], [field(true)], masker);
    expect(out?.values[0]?.toString()).toBe(hexOf("\xff\x00[REDACTED:email]\x80", "latin1"));
  });

  it("masks a full-width card stored as UTF-8 bytes", () => {
    const card = "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11";
    const out = maskRow([Buffer.from(hexOf(`pan ${card}`))], [field(true)], masker);
    expect(out?.values[0]?.toString()).toBe(hexOf("pan [REDACTED:card]"));
  });

  it("leaves a bytea with nothing to mask, and hex in a text column, as they are", () => {
    expect(maskRow([Buffer.from(hexOf("nothing here"))], [field(true)], masker)).toBeNull();
    expect(maskRow([Buffer.from(hexOf("alice@example.com"))], [field(false)], masker)).toBeNull();
  });
});
