/**
 * One escape-sequence grammar (detectors/escapes.ts) for the whole-text detectors and the stream
 * masker. A value split by any sequence a terminal does not print (CSI in 7 or 8 bits, OSC, DCS
 * and the other control strings, charset designations and other short escapes, C1 controls) is
 * shown whole, so it is masked whole; and streamed masking equals whole-text masking for any
 * chunking of text that mixes values with such sequences, valid or broken.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";
import { luhnCheckDigit } from "./checksums";
import { ESC_BROKEN, ESC_INCOMPLETE, sequenceEnd } from "./detectors/escapes";

const masker = allDetectorsMasker();
const streamed = (chunks: string[]) => streamedThrough(masker, chunks);

const SEQUENCES = {
  osc: "\x1b]0;title\x07",
  oscSt: "\x1b]8;;http://x/\x1b\\",
  dcs: "\x1bP1;2|x\x1b\\",
  apc: "\x1b_hidden\x1b\\",
  c1Csi: "\x9b1m",
  c1Osc: "\x9d0;t\x9c",
  charset: "\x1b(B",
  saveCursor: "\x1b7",
  keypad: "\x1b=",
  c1Single: "\x84",
};

describe("the escape-sequence grammar", () => {
  it("reads every kind of sequence to its end", () => {
    for (const [name, seq] of Object.entries(SEQUENCES)) expect(sequenceEnd(`${seq}rest`, 0), name).toBe(seq.length);
    expect(sequenceEnd("\x1b[1;31mX", 0)).toBe(7);
  });

  it("tells an incomplete sequence from a broken one", () => {
    for (const partial of ["\x1b", "\x1b[1;3", "\x1b]0;tit", "\x1bP1;2|x\x1b", "\x9b1", "\x1b("]) expect(sequenceEnd(partial, 0), JSON.stringify(partial)).toBe(ESC_INCOMPLETE);
    for (const broken of ["\x1b[ 123", "\x1b[1\n", "\x1b\x01", "\x1b(\x01", "\x1bé"]) expect(sequenceEnd(broken, 0), JSON.stringify(broken)).toBe(ESC_BROKEN);
  });
});

describe("a value split by a sequence the terminal does not print is masked", () => {
  it.each(Object.entries(SEQUENCES))("card split by %s", (_name, seq) => {
    for (const text of [`card 4111${seq}1111 1111 1111 ok`, `card 4111 ${seq}1111 1111 1111 ok`, `card 4111 1111${seq} 1111 1111 ok`]) {
      const out = masker.maskText(text);
      expect(out, JSON.stringify(text)).toBe("card [REDACTED:card] ok");
      expect(streamed([...text]), JSON.stringify(text)).toBe(out);
    }
  });

  it("an email split at its '@' by an OSC", () => {
    expect(masker.maskText("to bob\x1b]0;x\x07@example.com.")).toBe("to [REDACTED:email].");
  });

  it("values inside a control string (a window title, a hyperlink) are masked too", () => {
    expect(masker.maskText("\x1b]0;bob@example.com\x07$ ")).toBe("\x1b]0;[REDACTED:email]\x07$ ");
    expect(masker.maskText("\x1b]8;;mailto:bob@example.com\x1b\\link\x1b]8;;\x1b\\")).toBe("\x1b]8;;mailto:[REDACTED:email]\x1b\\link\x1b]8;;\x1b\\");
  });

  it("a sequence that does not split a value stays as it was", () => {
    const prompt = "\x1b]0;user@host: ~\x07\x1b(B\x1b[0m\x9b1muser@host:~$ ";
    expect(masker.maskText(prompt)).toBe(prompt);
    expect(streamed([prompt])).toBe(prompt);
  });
});

const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(""));
const card = fc.tuple(fc.constantFrom("4", "51", "6011"), digits(14)).map(([p, fill]) => {
  const partial = (p + fill).slice(0, 15);
  return partial + luhnCheckDigit(partial);
});
const ssn = fc.tuple(fc.integer({ min: 100, max: 665 }), fc.integer({ min: 10, max: 99 }), fc.integer({ min: 1000, max: 9999 })).map(([a, b, c]) => `${a}-${b}-${c}`);
const email = fc.constantFrom("bob@example.com", "a.b+c@mail.test.io");
const sequence = fc.constantFrom(
  ...Object.values(SEQUENCES),
  "\x1b[1m",
  "\x1b[0m",
  "\x1b[38;5;196m",
  // broken and stray: a boundary, what follows is text
  "\x1b[ ",
  "\x1b[1\n",
  "\x1b",
  "\x9b",
  "\x1b]0;",
  "\x07",
  "\x1b\\",
  "\x9c",
);
/** A value with sequences dropped between some of its characters. */
const split = fc.tuple(fc.oneof(card, ssn, email), fc.array(fc.tuple(fc.nat(), sequence), { maxLength: 3 })).map(([value, inserts]) => {
  let v = value;
  for (const [at, seq] of inserts) {
    const p = at % (v.length + 1);
    v = v.slice(0, p) + seq + v.slice(p);
  }
  return v;
});
const noise = fc.string({ unit: fc.constantFrom(..."ab19 .-:@\n\r;[]m".split("")), maxLength: 12 });
const text = fc.tuple(fc.array(fc.oneof(noise, split, sequence, card), { maxLength: 8 }), fc.constantFrom(" ", "")).map(([parts, sep]) => parts.join(sep));

describe("property: streamed masking equals whole-text masking with escape sequences", () => {
  it("for any chunking", () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 8 }), (t, cuts) => {
        expect(streamed(chunksAt(t, cuts))).toBe(masker.maskText(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("one character at a time", () => {
    fc.assert(
      fc.property(text, (t) => {
        expect(streamed([...t])).toBe(masker.maskText(t));
      }),
      { numRuns: 500 },
    );
  });

  it("a card split only by complete sequences that the terminal does not print never survives", () => {
    const quiet = fc.constantFrom(...Object.values(SEQUENCES), "\x1b[1m", "\x1b[0m");
    fc.assert(
      fc.property(card, fc.array(fc.tuple(fc.integer({ min: 1, max: 15 }), quiet), { minLength: 1, maxLength: 3 }), (value, inserts) => {
        const gaps = new Map(inserts);
        const v = [...value].map((d, k) => (gaps.get(k) ?? "") + d).join("");
        const out = masker.maskText(`pay ${v} now`);
        expect(out).toBe("pay [REDACTED:card] now");
      }),
      { numRuns: 1000 },
    );
  });
});
