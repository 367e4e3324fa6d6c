/**
 * Property tests: generated valid secrets embedded in generated text must never survive
 * masking; masking is idempotent for the redact and hash styles; and a stream cut into
 * arbitrary chunks masks exactly like the whole text.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunksAt } from "./chunks.testkit";
import { DETECTOR_NAMES } from "./catalog";
import { luhnCheckDigit } from "./checksums";
import { detect } from "./detect";
import { Prefilter } from "./detectors/prefilter";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";
import type { MaskingRule, MaskStyle } from "./types";

const ruleFor = (style: MaskStyle): MaskingRule => ({ id: style, name: style, enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style });
const redact = compileMasker([ruleFor("redact")], { hashKey: "prop-key" });
const hash = compileMasker([ruleFor("hash")], { hashKey: "prop-key" });

const digits = (min: number, max: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: min, maxLength: max }).map((d) => d.join(""));

/** Luhn-valid numbers with real network prefixes, compact or grouped in fours. */
const card = fc
  .tuple(fc.constantFrom("4", "51", "55", "2221", "34", "37", "6011", "65"), fc.integer({ min: 13, max: 19 }), digits(18, 18), fc.constantFrom("", " ", "-"))
  .map(([prefix, length, fill, sep]) => {
    const partial = (prefix + fill).slice(0, length - 1);
    const number = partial + luhnCheckDigit(partial);
    return sep ? number.replace(/(\d{4})(?=\d)/g, `$1${sep}`) : number;
  });

const ssn = fc
  .tuple(fc.integer({ min: 1, max: 899 }), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 1, max: 9999 }))
  .filter(([area]) => area !== 666)
  .map(([a, g, s]) => `${String(a).padStart(3, "0")}-${String(g).padStart(2, "0")}-${String(s).padStart(4, "0")}`);

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);
const email = fc
  .tuple(fc.stringMatching(/^[a-zA-Z0-9_%+-]{1,12}(\.[a-zA-Z0-9_%+-]{1,8})?$/), fc.array(label, { minLength: 1, maxLength: 3 }), fc.stringMatching(/^[a-z]{2,6}$/))
  .map(([local, labels, tld]) => `${local}@${labels.join(".")}.${tld}`);

/** Noise from an alphabet rich in the characters detectors care about. */
const noise = fc.string({ unit: fc.constantFrom(..."abcxyzAKQ019 .,-:;@+()/_=\t\nü€".split("")), maxLength: 40 });

describe("property: generated secrets never survive masking", () => {
  it.each([
    ["card", card],
    ["ssn", ssn],
    ["email", email],
  ] as const)("%s embedded in random text", (_name, secret) => {
    fc.assert(
      fc.property(noise, secret, noise, (before, value, after) => {
        const text = `${before} ${value} ${after}`;
        for (const m of [redact, hash]) {
          expect(m.maskText(text)).not.toContain(value);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("a Luhn-failing card number is left alone", () => {
    fc.assert(
      fc.property(card.filter((c) => !c.includes(" ") && !c.includes("-")), (value) => {
        const last = Number(value.at(-1));
        const broken = value.slice(0, -1) + ((last + 1) % 10);
        expect(redact.maskText(`pay ${broken} now`)).toBe(`pay ${broken} now`);
      }),
    );
  });
});

describe("property: idempotence", () => {
  const text = fc.array(fc.oneof(noise, card, ssn, email), { maxLength: 8 }).map((parts) => parts.join(" "));

  it("masking masked text changes nothing (redact and hash)", () => {
    fc.assert(
      fc.property(text, (t) => {
        for (const m of [redact, hash]) {
          const once = m.maskText(t);
          expect(m.maskText(once)).toBe(once);
        }
      }),
      { numRuns: 400 },
    );
  });
});

describe("property: streaming equals whole-text masking", () => {
  const text = fc.array(fc.oneof(noise, card, ssn, email, fc.constantFrom("\x1b[1m", "\x1b[0m", "\r\n")), { maxLength: 10 }).map((parts) => parts.join(" "));

  it("for any chunking", () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), (t, cuts) => {
        const chunks = chunksAt(t, cuts);
        const stream = createStreamMasker(redact);
        const out = chunks.map((c) => stream.push(c)).join("") + stream.flush();
        expect(out).toBe(redact.maskText(t));
      }),
      { numRuns: 500 },
    );
  });
});

describe("property: the prefilter never hides a match", () => {
  const prefilter = new Prefilter((1 << DETECTOR_NAMES.length) - 1);
  const secretish = fc.constantFrom("eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.", "AKIA" + "ABCDEFGHIJKLMNOP", "x@y.zz", "fe80::ab:cd", "ghp_" + "a".repeat(36), "sk" + "_live_abcdefghijkl", "-----BEGIN PRIVATE KEY-----\nAAAA\n");
  const words = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyzAJKX _-.,:".split("")), minLength: 100, maxLength: 300 });

  it("rejects only texts in which the scanner finds nothing", () => {
    fc.assert(
      fc.property(words, fc.option(secretish), fc.nat(), (w, secret, at) => {
        const p = at % (w.length + 1);
        const text = secret === null ? w : `${w.slice(0, p)} ${secret} ${w.slice(p)}`;
        if (!prefilter.mayMatch(text)) expect(detect(text)).toEqual([]);
        if (secret !== null) expect(prefilter.mayMatch(text)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
