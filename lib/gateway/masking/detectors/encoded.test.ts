import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "../catalog";
import { compileMasker } from "../masker";
import type { MaskingRule } from "../types";
import { encodedCharAt } from "./encoded";

const rule = (detectors: MaskingRule["detectors"]): MaskingRule => ({ id: "r", name: "r", enabled: true, detectors, columns: [], style: "redact" });
const masker = compileMasker([rule([...DETECTOR_NAMES])], { hashKey: "k" });
const emailOnly = compileMasker([rule(["email"])], { hashKey: "k" });

describe("encoded '@' and '.'", () => {
  it.each([
    ["percent-encoded", "bob%40example.com"],
    ["percent-encoded, lower-case hex, encoded dot", "bob%40example%2ecom"],
    ["an HTML decimal entity", "bob&#64;example.com"],
    ["an HTML entity with leading zeros and an encoded dot", "bob&#064;example&#46;com"],
    ["an HTML hex entity", "bob&#x40;example.com"],
    ["a named HTML entity", "bob&commat;example&period;com"],
    ["a JSON \\u escape", "bob\\u0040example.com"],
    ["a \\x escape", "bob\\x40example.com"],
  ])("masks an email with %s", (_what, value) => {
    expect(masker.maskText(`{"to": "${value}", "n": 1}`)).toBe('{"to": "[REDACTED:email]", "n": 1}');
    expect(emailOnly.maskText(`x ${value} y`)).toBe("x [REDACTED:email] y");
  });

  it("masks an encoded email in long text with only the email detector (past the prefilter)", () => {
    const text = "lorem ipsum dolor sit amet ".repeat(8);
    for (const value of ["bob%40example.com", "bob&#64;example.com", "bob&commat;example.com", "bob\\u0040example.com"]) {
      expect(emailOnly.maskText(`${text}${value} end`)).toBe(`${text}[REDACTED:email] end`);
    }
  });

  it("leaves other escapes and look-alikes alone", () => {
    for (const text of ["100%40 of them", "a &#64 b", "50% off &amp; more", "path\\u0041b.com", "%40", "&#64;", "x=%2e5"]) {
      expect(masker.maskText(text), text).toBe(text);
    }
  });

  it("decodes only '@' and '.'", () => {
    expect(encodedCharAt("%40", 0)).toBe(3 * 256 + 64);
    expect(encodedCharAt("&#x2E;", 0)).toBe(6 * 256 + 46);
    expect(encodedCharAt("%41", 0)).toBe(0);
    expect(encodedCharAt("&#9999999;", 0)).toBe(0);
    expect(encodedCharAt("\\u004", 0)).toBe(0);
  });
});
