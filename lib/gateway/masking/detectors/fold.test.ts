import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunksAt } from "../chunks.testkit";
import { DETECTOR_NAMES } from "../catalog";
import { detect } from "../detect";
import { compileMasker } from "../masker";
import { createStreamMasker } from "../stream";
import type { MaskingRule } from "../types";
import { foldText } from "./fold";
import { Prefilter } from "./prefilter";

const all: MaskingRule = { id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" };
const masker = compileMasker([all], { hashKey: "k" });
const kinds = (text: string) => detect(text).map((d) => `${d.detector}:${d.value}`);

/** "4111…" written with the digits of another block (zero = that block's '0'). */
const inDigits = (ascii: string, zero: number) => ascii.replace(/[0-9]/g, (d) => String.fromCodePoint(zero + Number(d)));
const CARD = "4111 1111 1111 1111";
const CARD_COMPACT = "4111111111111111";

describe("folding look-alike characters before detection", () => {
  it.each([
    ["full-width digits", inDigits(CARD, 0xff10)],
    ["Arabic-Indic digits", inDigits(CARD, 0x660)],
    ["extended Arabic-Indic digits", inDigits(CARD_COMPACT, 0x6f0)],
    ["Devanagari digits", inDigits(CARD_COMPACT, 0x966)],
    ["mathematical bold digits (astral)", inDigits(CARD_COMPACT, 0x1d7ce)],
    ["no-break spaces", CARD.replace(/ /g, "\u00a0")],
    ["thin spaces", CARD.replace(/ /g, "\u2009")],
    ["figure spaces", CARD.replace(/ /g, "\u2007")],
    ["narrow no-break spaces", CARD.replace(/ /g, "\u202f")],
    ["ideographic spaces", CARD.replace(/ /g, "\u3000")],
    ["U+2010 hyphens", CARD.replace(/ /g, "\u2010")],
    ["U+2011 non-breaking hyphens", CARD.replace(/ /g, "\u2011")],
    ["en dashes", CARD.replace(/ /g, "\u2013")],
    ["em dashes", CARD.replace(/ /g, "\u2014")],
    ["U+2212 minus signs", CARD.replace(/ /g, "\u2212")],
    ["full-width hyphen-minus", CARD.replace(/ /g, "\uff0d")],
    ["zero-width spaces between every digit", [...CARD_COMPACT].join("\u200b")],
    ["soft hyphens", "4111\u00ad1111\u00ad1111\u00ad1111"],
    ["a word joiner and a BOM", "4111\u20601111\ufeff11111111"],
    ["combining marks on the digits", [...CARD_COMPACT].map((d) => d + "\u0301").join("")],
    ["keycap digits", [...CARD_COMPACT].map((d) => d + "\ufe0f\u20e3").join("")],
    ["circled digits after the first", "4" + [...CARD_COMPACT.slice(1)].map((d) => (d === "1" ? "\u2460" : d)).join("")],
  ])("a card in %s is masked", (_what, value) => {
    const text = `card ${value} exp 12/29`;
    const masked = masker.maskText(text);
    expect(masked).toBe("card [REDACTED:card] exp 12/29");
  });

  it.each([
    ["a full-width @", "alice\uff20example.com"],
    ["a small commercial at", "alice\ufe6bexample.com"],
    ["full-width @ and dots", "alice.smith\uff20example\uff0ecom"],
    ["an ideographic full stop", "alice@example\u3002com"],
    ["a zero-width space before the @", "alice\u200b@example.com"],
    ["a soft hyphen in the domain", "alice@exam\u00adple.com"],
    ["full-width letters throughout", "\uff41\uff4c\uff49\uff43\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d"],
    ["NFD accents", "jose\u0301@exa\u0301mple.com"],
  ])("an email with %s is masked", (_what, value) => {
    expect(masker.maskText(`mail ${value}, thanks`)).toBe("mail [REDACTED:email], thanks");
  });

  it.each([
    ["SSN with U+2011", "123\u201145\u20116789", "ssn"],
    ["SSN in full-width digits", inDigits("123-45-6789", 0xff10).replace(/-/g, "\uff0d"), "ssn"],
    ["phone with NBSPs", "+44\u00a020\u00a07946\u00a00958", "phone"],
    ["US phone with en dashes", "555\u2013123\u20134567", "phone"],
    ["IPv4 with full-width stops", "10\uff0e20\uff0e30\uff0e40", "ipv4"],
    ["IBAN with NBSPs", "DE89\u00a03704\u00a00044\u00a00532\u00a00130\u00a000", "iban"],
    ["AWS key in full-width letters", [..."AKIAIOSFODNN7EXAMPLE"].map((c) => String.fromCodePoint(c.codePointAt(0)! + 0xfee0)).join(""), "aws-key"],
  ])("%s is masked", (_what, value, detector) => {
    expect(masker.maskText(`x ${value} y`)).toBe(`x [REDACTED:${detector}] y`);
  });

  it("masks the original characters, and only them", () => {
    const text = `Zahlung ${inDigits(CARD, 0xff10)} für Jürgen – danke`;
    const [hit] = detect(text);
    expect(hit.detector).toBe("card");
    expect(hit.value).toBe(inDigits(CARD, 0xff10));
    expect(masker.maskText(text)).toBe("Zahlung [REDACTED:card] für Jürgen – danke");
  });

  it("keeps the partial style's promise on folded values", () => {
    const partial = compileMasker([{ ...all, style: "partial" }], { hashKey: "k" });
    const out = partial.maskText(`card ${inDigits(CARD, 0xff10)}`);
    expect(out).toBe(`card ****\u3000****\u3000****\u3000${inDigits("1111", 0xff10)}`.replace(/\u3000/g, " "));
  });

  it("still refuses what is not a value once folded", () => {
    expect(kinds(inDigits("4111 1111 1111 1112", 0xff10))).toEqual([]); // Luhn failure
    expect(kinds("sku" + inDigits(CARD_COMPACT, 0xff10))).toEqual([]); // inside a word
    expect(kinds("Grüße aus Köln – bis bald, ½ Stunde")).toEqual([]);
    expect(kinds("@handle\uff20")).toEqual([]);
  });

  it("masks a look-alike value in long text too (past the prefilter)", () => {
    const text = "lorem ipsum dolor sit amet ".repeat(8) + inDigits(CARD_COMPACT, 0x660) + " end";
    expect(masker.maskText(text)).toBe("lorem ipsum dolor sit amet ".repeat(8) + "[REDACTED:card] end");
  });

  it("keeps what the plain pass found when folding glues it to something else", () => {
    expect(masker.maskText("bob@x.org\u20134111 1111 1111 1111")).toBe("[REDACTED:email]\u2013[REDACTED:card]");
  });

  it("masks a card before an '@' that starts no address, and reads a broken escape as a boundary", () => {
    expect(masker.maskText("4111111111111111@ ok")).toBe("[REDACTED:card]@ ok");
    expect(masker.maskText("4111 1111 1111 1111@4111 1111 1111 1111")).toBe("[REDACTED:card]@[REDACTED:card]");
    expect(masker.maskText(`\x1b[${inDigits(CARD, 0xff10)}`)).toBe("[REDACTED:card]");
  });

  // "\x1b " + "[REDACTED…" is a complete sequence (ESC, an intermediate, the final '['): left in
  // front of the marker, the sequence the value broke would swallow the marker's first character,
  // the terminal would show "a@a.REDACTED:card]", and masking that output again would read an
  // address in it. The broken sequence is masked with the value instead.
  it.each([
    ["an ESC and an intermediate (the property's counterexample)", "a@a.\x1b \uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 ", "a@a.[REDACTED:card] "],
    ["a bare ESC", `x \x1b${inDigits(CARD, 0xff10)} y`, "x [REDACTED:card] y"],
    ["a CSI with parameters", `x \x1b[1;${inDigits(CARD, 0xff10)} y`, "x [REDACTED:card] y"],
    ["a C1 CSI", `x \x9b${inDigits(CARD, 0xff10)} y`, "x [REDACTED:card] y"],
    ["a CSI whose parameters run into the value", "x \x1b[4111 1111 1111 1111 y", "x [REDACTED:card] y"],
  ])("masks a sequence the value breaks with the value: %s", (_what, text, expected) => {
    const once = masker.maskText(text);
    expect(once).toBe(expected);
    expect(masker.maskText(once)).toBe(once);
    for (let cut = 1; cut < text.length; cut++) {
      const s = createStreamMasker(masker);
      expect(s.push(text.slice(0, cut)) + s.push(text.slice(cut)) + s.flush(), `cut at ${cut}`).toBe(expected);
    }
    const chars = createStreamMasker(masker);
    expect([...text].map((c) => chars.push(c)).join("") + chars.flush()).toBe(expected);
  });

  it("keeps a complete sequence and a title's payload in front of a value", () => {
    expect(masker.maskText("x \x1b[1m4111 1111 1111 1111 y")).toBe("x \x1b[1m[REDACTED:card] y");
    expect(masker.maskText("\x1b]0;4111 1111 1111 1111\x07 y")).toBe("\x1b]0;[REDACTED:card]\x07 y");
    expect(masker.maskText("\x1b]0;t 4111 1111 1111 1111")).toBe("\x1b]0;t [REDACTED:card]");
  });

  it("partial style: the kept digits do not end the broken sequence either", () => {
    const partial = compileMasker([{ ...all, style: "partial" }], { hashKey: "k" });
    // "\x1b " + "****…1" would be one sequence: ESC, the intermediates " ****…", the final '1'
    const once = partial.maskText("x \x1b \uff14111 1111 1111 1111 y");
    expect(once).toBe("x **** **** **** 1111 y");
  });

  it("lets the prefilter pass look-alikes but not other non-ASCII text", () => {
    const all14 = new Prefilter((1 << DETECTOR_NAMES.length) - 1);
    const emailOnly = new Prefilter(1 << DETECTOR_NAMES.indexOf("email"));
    const prose = "Grüße aus Köln, schöne Tage – bis bald! ".repeat(4);
    expect(all14.mayMatch(prose)).toBe(false);
    expect(all14.mayMatch(prose + "\uff14")).toBe(true);
    expect(all14.mayMatch(prose + "\u00a0\u200b")).toBe(false); // separators join digits; alone they match nothing
    expect(emailOnly.mayMatch(prose + "4111")).toBe(false);
    expect(emailOnly.mayMatch(prose + "\uff20")).toBe(true);
    expect(emailOnly.mayMatch(prose + "\u0664")).toBe(true); // an Arabic-Indic digit: evidence once folded
  });

  it("streams a value after a broken CSI as the whole text masks it (a counterexample the property found)", () => {
    const t = "\x1b[ 123\u201145\u20116789 ";
    const s = createStreamMasker(masker);
    expect(s.push(t) + s.flush()).toBe(masker.maskText(t));
    expect(masker.maskText(t)).toContain("[REDACTED:ssn]");
  });

  it("streams a full-width card split across chunks", () => {
    const line = `card ${inDigits(CARD, 0xff10)} ok\n`;
    for (let cut = 1; cut < line.length; cut++) {
      const s = createStreamMasker(masker);
      const out = s.push(line.slice(0, cut)) + s.push(line.slice(cut)) + s.flush();
      expect(out, `cut at ${cut}`).toBe("card [REDACTED:card] ok\n");
    }
  });

  it("maps folded positions back to the original text", () => {
    const f = foldText("a\u200bb\uff20\u{1d7ce}");
    expect(f.text).toBe("ab@0");
    expect([...f.starts.slice(0, 4)]).toEqual([0, 2, 3, 4]);
    expect([...f.ends.slice(0, 4)]).toEqual([2, 3, 4, 6]);
  });
});

describe("property: folding and streaming with look-alikes and escape sequences", () => {
  const part = fc.oneof(
    fc.constantFrom(CARD, CARD_COMPACT, inDigits(CARD, 0xff10), inDigits(CARD_COMPACT, 0x660), CARD.replace(/ /g, "\u00a0"), [...CARD_COMPACT].join("\u200b"), "alice\uff20example.com", "bob%40x.org", "123\u201145\u20116789"),
    fc.constantFrom("\x1b[1m", "\x1b[0m", "\x1b[1;31m", "\x1b[C", "\r\n", "\n", "\u2013", "\u00ad", "\u0301", "&#64;", "ok", "$ ", "@", "42"),
    fc.string({ unit: fc.constantFrom(..."ab1 \uff11\u00a0-@.\x1b[m".split("")), maxLength: 8 }),
  );
  const text = fc.array(part, { maxLength: 10 }).map((parts) => parts.join(""));
  // Values glued together with no separator at all ("4111…1111４１１１…") read as one overlong
  // run once folded (a documented limit): the streaming property joins parts with separators.
  const separated = fc.array(fc.tuple(part, fc.constantFrom(" ", "\n", ", ", "\x1b[0m ")), { maxLength: 10 }).map((parts) => parts.map(([p, sep]) => p + sep).join(""));

  it("reports sorted, disjoint, in-bounds matches, and the prefilter never hides one", () => {
    const prefilter = new Prefilter((1 << DETECTOR_NAMES.length) - 1);
    fc.assert(
      fc.property(text, (t) => {
        const found = detect(t);
        let last = 0;
        for (const d of found) {
          expect(d.start).toBeGreaterThanOrEqual(last);
          expect(d.end).toBeGreaterThan(d.start);
          expect(d.end).toBeLessThanOrEqual(t.length);
          last = d.end;
        }
        const padded = t + " ".repeat(100);
        if (!prefilter.mayMatch(padded)) expect(detect(padded)).toEqual([]);
      }),
      { numRuns: 500 },
    );
  });

  it("streams any chunking like the whole text, and masking masked output changes nothing", () => {
    fc.assert(
      fc.property(separated, fc.array(fc.nat(), { maxLength: 6 }), (t, cuts) => {
        const chunks = chunksAt(t, cuts);
        const s = createStreamMasker(masker);
        const whole = masker.maskText(t);
        expect(chunks.map((c) => s.push(c)).join("") + s.flush()).toBe(whole);
        expect(masker.maskText(whole)).toBe(whole);
      }),
      { numRuns: 500 },
    );
  });
});
