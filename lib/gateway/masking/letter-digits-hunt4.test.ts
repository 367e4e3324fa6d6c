/**
 * 'S', 'B' and 'Z' written for 5, 8 and 2 inside a mostly-digit run, read as digits by the same
 * rule as 'O'/'l'/'I' (letter-digits.ts): at least 6 digits, and 3 digits per such letter. Words,
 * units and codes made of those letters stay as they are.
 */
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, streamedThrough } from "./chunks.testkit";
import { compileMasker } from "./masker";

const masker = allDetectorsMasker();
const cardOnly = compileMasker([{ id: "c", name: "c", enabled: true, detectors: ["card", "ssn"], columns: [], style: "redact" }], { hashKey: "k" });

describe("S, B and Z for 5, 8 and 2", () => {
  it.each([
    ["card SS00 0000 0000 0004 ok", "card [REDACTED:card] ok"],
    ["card 4111 1111 1111 111l, 5S00 0000 0000 0004 ok", "card [REDACTED:card], [REDACTED:card] ok"],
    ["card 4012 BBBB 8888 1881 ok", "card [REDACTED:card] ok"],
    ["card Z223 0000 0000 0023 ok", "card [REDACTED:card] ok"],
    ["ssn 123-4S-6789 ok", "ssn [REDACTED:ssn] ok"],
  ])("%j is masked, whole and streamed one character at a time", (text, masked) => {
    for (const m of [masker, cardOnly]) {
      expect(m.maskText(text)).toBe(masked);
      expect(streamedThrough(m, [...text])).toBe(masked);
    }
  });

  it("a phone with an S and an l (letter-digits-hunt3 listed it as a word: 'S' was not covered then)", () => {
    expect(masker.maskText("call 5S5-l23-4567 now")).toBe("call [REDACTED:phone] now");
  });

  it.each([
    "SOS BBZ ZZ top 500 S B Z",
    "size 1234 B, 5678 KB, total 12345678 B",
    "ls: 4096 Sep 12 2024 S3 bucket",
    "2026-11-27T14:30:05Z 123456 ZB",
    "BSD 4.4 and SZ 2.0 shipped 1993",
  ])("%j stays as it is", (text) => {
    expect(masker.maskText(text)).toBe(text);
    expect(streamedThrough(masker, [...text])).toBe(text);
  });
});
