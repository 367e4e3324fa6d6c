/**
 * Letters written for digits: 'O'/'o' for 0, 'l'/'I' for 1 ("4111 1111 1111 111l", "l23-45-6789").
 * A reader turns them back, so inside a run of number groups that is mostly digits already
 * (three digits or more for each such letter, at least six digits) they are read as digits.
 * Words stay words: a run of letters, prose, identifiers and hex are left alone.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";

const masker = allDetectorsMasker();
const streamed = (chunks: string[]) => streamedThrough(masker, chunks);

describe("letters read as digits inside a number", () => {
  it.each([
    ["card 4111 1111 1111 111l ok", "card [REDACTED:card] ok"],
    ["card 4lll 1111 1111 1111 ok", "card [REDACTED:card] ok"],
    ["card 4111-1lI1-1111-1111 ok", "card [REDACTED:card] ok"],
    ["card 5500 O000 0000 0004 ok", "card [REDACTED:card] ok"],
    ["card 55oo0000000000o4 ok", "card [REDACTED:card] ok"],
    ["ssn l23-45-6789 ok", "ssn [REDACTED:ssn] ok"],
    ["ssn 123-45-678I ok", "ssn [REDACTED:ssn] ok"],
    ["card \uff14\uff11\uff11\uff11 1111 1111 111l ok", "card [REDACTED:card] ok"],
  ])("%j", (text, masked) => {
    expect(masker.maskText(text)).toBe(masked);
    expect(masker.maskValue(text)).toBe(masked);
    for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)]), `cut ${cut}`).toBe(masked);
  });
});

describe("words stay words", () => {
  it.each([
    "lol I lol 2024 ok",
    "Oslo 1234 5678 9012 3456 Ill",
    "I lI1 11 lol",
    "loo 1000 ll 1O",
    "commit 1f0e2d3c4b5a6978 oll",
    "v1.2.3-l1 rc O1",
    "4lll llll llll llll",
    "call 555-l23-4567 now".replace("555", "5S5"),
    "on 2026-11-27 at 10:00 I logged 12 lines, O errors",
  ])("%j", (text) => {
    expect(masker.maskText(text)).toBe(text);
  });
});

describe("property: streamed equals whole-text masking with letters for digits", () => {
  const part = fc.constantFrom("4111", "111l", "1lI1", "O000", "5500", "0004", "l23", "45", "6789", "lol", "I", "Oslo", " ", "-", "\n", "x");
  it("for any chunking", () => {
    fc.assert(
      fc.property(fc.array(part, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 6 }), (parts, cuts) => {
        const t = parts.join("");
        expect(streamed(chunksAt(t, cuts))).toBe(masker.maskText(t));
      }),
      { numRuns: 2000 },
    );
  });
});
