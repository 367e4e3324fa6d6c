/**
 * Look-alike digits and separators that the fold table (detectors/fold.ts) missed: enclosed
 * digits without a compatibility decomposition (dingbat and double-circled digits), digits with
 * punctuation ("⑷", "⒋", "🄅"), dot-like separators ("·", "・", "•") and dash-likes ("ー", "⁃",
 * "˗", "➖"). A reader sees the value, so it is masked; streamed the same as whole.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "./catalog";
import { chunksAt } from "./chunks.testkit";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";

const masker = compileMasker([{ id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" }], { hashKey: "k" });
const CARD = "4111 1111 1111 1111";

/** Digit forms: [name, the code point of the form of 0 (or of 1 when there is no 0), the value it starts at]. */
const DIGIT_FORMS: [string, number, number][] = [
  ["parenthesized", 0x2474, 1],
  ["digit full stop", 0x2488, 1],
  ["digit comma", 0x1f101, 0],
  ["digit full stop 0", 0x1f100, 0],
  ["dingbat negative circled", 0x2776, 1],
  ["dingbat circled sans-serif", 0x2780, 1],
  ["dingbat negative circled sans-serif", 0x278a, 1],
  ["double circled", 0x24f5, 1],
];

function written(value: string, cpOf: (d: number) => number | null): string | null {
  let out = "";
  for (const ch of value) {
    if (ch < "0" || ch > "9") {
      out += ch;
      continue;
    }
    const cp = cpOf(Number(ch));
    if (cp === null) return null;
    out += String.fromCodePoint(cp);
  }
  return out;
}

describe("look-alike digits", () => {
  it.each(DIGIT_FORMS)("a card in %s digits is masked", (_name, first, from) => {
    // "digit full stop 0" has only 0: mix it with the comma forms
    const cpOf = (d: number) => (from === 0 && first === 0x1f100 ? (d === 0 ? 0x1f100 : 0x1f101 + d) : d >= from && d <= 9 ? first + d - from : null);
    const value = written(CARD.replace(/1/g, from === 0 ? "0" : "1").replace(/^4/, "4"), cpOf);
    // a Luhn-valid card in the digits the form has (4000 0000 0000 0002 for forms with 0)
    const card = from === 0 ? written("4000 0000 0000 0002", cpOf) : value;
    expect(card).not.toBeNull();
    expect(masker.maskText(`pay ${card} now`)).toBe("pay [REDACTED:card] now");
  });

  it("⓿ and the sans-serif zeros read as 0", () => {
    for (const zero of ["\u24ff", "\u{1f10b}", "\u{1f10c}"]) {
      expect(masker.maskText(`pay 4${zero.repeat(14)}2 now`), zero).toBe("pay [REDACTED:card] now");
    }
  });
});

describe("look-alike separators", () => {
  it.each([
    ["middle dot", "4111\u00b71111\u00b71111\u00b71111"],
    ["katakana middle dot", "4111\u30fb1111\u30fb1111\u30fb1111"],
    ["bullet", "4111\u20221111\u20221111\u20221111"],
    ["katakana long vowel as dash", "4111\u30fc1111\u30fc1111\u30fc1111"],
    ["hyphen bullet", "4111\u20431111\u20431111\u20431111"],
    ["modifier minus", "4111\u02d71111\u02d71111\u02d71111"],
    ["heavy minus", "4111\u27961111\u27961111\u27961111"],
    ["halfwidth long vowel", "4111\uff701111\uff701111\uff701111"],
    ["full-width vertical lines", "4111\uff5c1111\uff5c1111\uff5c1111"],
    ["fraction slashes", "4111\u20441111\u20441111\u20441111"],
    ["division slashes", "4111\u22151111\u22151111\u22151111"],
  ])("a card grouped by %s is masked", (_name, card) => {
    expect(masker.maskText(`pay ${card} now`)).toBe("pay [REDACTED:card] now");
  });

  it.each([
    ["ssn", "123\u30fc45\u30fc6789", "[REDACTED:ssn]"],
    ["phone", "090\u30fc1234\u30fc5678", "[REDACTED:phone]"],
    ["ipv4", "10\u00b70\u00b70\u00b71", "[REDACTED:ipv4]"],
  ])("%s with look-alike separators", (_name, value, masked) => {
    expect(masker.maskText(`v ${value} ok`)).toBe(`v ${masked} ok`);
  });

  it("text that only uses such characters between words is left alone", () => {
    for (const t of ["Home · About · 2024", "レコードー覧", "• item 1\n• item 2", "a ➖ b"]) expect(masker.maskText(t)).toBe(t);
  });
});

describe("property: streamed equals whole with look-alikes", () => {
  const unit = fc.constantFrom(..."41 0-.", "\u2474", "\u2477", "\u2488", "\u{1f105}", "\u2776", "\u278d", "\u24f8", "\u00b7", "\u30fb", "\u30fc", "\u2022", "\u2796", "\u24ff");
  it("for any chunking", () => {
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 40 }).map((u) => u.join("")), fc.array(fc.nat(), { maxLength: 5 }), (t, cuts) => {
        const s = createStreamMasker(masker);
        expect(chunksAt(t, cuts).map((c) => s.push(c)).join("") + s.flush()).toBe(masker.maskText(t));
      }),
      { numRuns: 1000 },
    );
  });
});
