/**
 * A control string (or a chain of sequences) longer than the stream masker can hold: a terminal
 * prints none of a 10 KB title, so "4111 1111 \e]0;<10 KB>\a1111 1111" shows one card. The stream
 * clips such a chain (its body past half of maxHold dropped, its terminator kept), so the value
 * around it is still held and masked whole, for any chunking.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";
import { clipSequenceChains } from "./detectors/overlong-sequences";
import { STREAM_MAX_HOLD } from "./stream";

const masker = allDetectorsMasker();
const BUDGET = STREAM_MAX_HOLD >> 1;
const KB10 = "w ".repeat(5120);

/** `text` in chunks of `size` after a first one of `first` characters. */
function chunked(text: string, size: number, first = 0): string[] {
  const chunks = [text.slice(0, first)];
  for (let k = first; k < text.length; k += size) chunks.push(text.slice(k, k + size));
  return chunks;
}

const SIZES = [100, 1000, 1024, 2049, 4096, 65536];

describe("a value around a 10 KB control string", () => {
  it.each([
    ["an OSC title ended by BEL", `\x1b]0;${KB10}\x07`],
    ["an OSC title ended by ST", `\x1b]2;${KB10}\x1b\\`],
    ["a DCS string", `\x1bP1;2|${KB10}\x1b\\`],
    ["an APC string", `\x1b_${KB10}\x9c`],
    ["a C1 OSC", `\x9d0;${KB10}\x07`],
    ["a title holding line breaks", `\x1b]0;${"w\n".repeat(5120)}\x07`],
    ["a chain of 2000 short titles", "\x1b]0;t\x07".repeat(2000)],
    ["a CSI with 6000 parameter bytes", `\x1b[${"1;".repeat(3000)}m`],
  ])("%s between the halves of a card is masked whole, in any chunks", (_what, seq) => {
    const text = `pay 4111 1111 ${seq}1111 1111 ok\n$ `;
    for (const size of SIZES) {
      for (const first of [0, 9, 13]) {
        const out = streamedThrough(masker, chunked(text, size, first));
        expect(out, `size ${size} first ${first}`).toBe("pay [REDACTED:card] ok\n$ ");
      }
    }
  });

  it("a value after it, and one in the part of its payload that is kept, are masked; what is past the budget is dropped", () => {
    const text = `\x1b]0;bob@example.com ${KB10}4111 1111 1111 1111\x07 card 5500 0000 0000 0004 ok\n$ `;
    for (const size of SIZES) {
      const out = streamedThrough(masker, chunked(text, size));
      expect(out, `size ${size}`).toMatch(/^\x1b\]0;\[REDACTED:email\] (w )+w?\x07 card \[REDACTED:card\] ok\n\$ $/);
      expect(out.length).toBeLessThan(BUDGET + 100);
    }
  });

  it("a value glued to the end of an unterminated 10 KB title never comes out", () => {
    const text = `\x1b]0;${KB10}\n4111 1111 1111 1111\n`;
    for (const size of SIZES) expect(streamedThrough(masker, chunked(text, size)), `size ${size}`).not.toMatch(/\d{4}/);
  });
});

describe("clipSequenceChains", () => {
  it("leaves text without an overlong chain as it is (the same string)", () => {
    const text = `${"\x1b[1mok\x1b[0m ".repeat(500)}\x1b]0;${"t".repeat(BUDGET - 10)}\x07 4111 1111 1111 1111\n`;
    expect(clipSequenceChains(text, BUDGET)).toBe(text);
  });

  it("keeps the introducer, the first part of the body and the terminator", () => {
    const clipped = clipSequenceChains(`a\x1b]0;${"x".repeat(5000)}\x1b\\b`, 100);
    expect(clipped).toBe(`a\x1b]0;${"x".repeat(96)}\x1b\\b`);
    expect(clipSequenceChains(`a\x1b]0;${"x".repeat(5000)}`, 100)).toBe(`a\x1b]0;${"x".repeat(96)}`);
  });

  it("a chunk that ends at the ESC that will end a clipped string keeps it (cases the property below found)", () => {
    for (const seqs of [`\x1bP${"w;".repeat(554)}`, `\x1bP${"w;".repeat(925)}\x1b[1m\x1bP${"w;".repeat(128)}`]) {
      const text = `pay 4111 1111 ${seqs}\x1b[0m1111 1111 ok\n$ `;
      const cut = text.lastIndexOf("\x1b[0m") + 1;
      expect(streamedThrough(masker, [text.slice(0, cut), text.slice(cut)])).toBe("pay [REDACTED:card] ok\n$ ");
    }
  });

  const payload = fc.integer({ min: 0, max: 1500 }).map((k) => "w;".repeat(k));
  const sequence = fc.oneof(
    payload.map((p) => `\x1b]0;${p}\x07`),
    payload.map((p) => `\x1bP${p}\x1b\\`),
    payload.map((p) => `\x1b_${p}\x9c`),
    payload.map((p) => `\x1bP${p}`), // cancelled by the sequence after it
    fc.constantFrom("\x1b[1m", "\x1b[0m", "\x1b(B"),
  );
  const chain = fc.array(sequence, { minLength: 1, maxLength: 6 }).map((seqs) => `${seqs.join("")}\x1b[0m`);

  it("property: a card split by any chain of sequences, long or short, never survives a stream, and clipping is idempotent", () => {
    fc.assert(
      fc.property(chain, fc.array(fc.nat(), { maxLength: 6 }), (seqs, cuts) => {
        const text = `pay 4111 1111 ${seqs}1111 1111 ok\n$ `;
        const clipped = clipSequenceChains(text, BUDGET);
        expect(clipSequenceChains(clipped, BUDGET)).toBe(clipped);
        if (text.length <= BUDGET) expect(clipped).toBe(text);
        expect(streamedThrough(masker, chunksAt(text, cuts))).toBe("pay [REDACTED:card] ok\n$ ");
      }),
      { numRuns: 300 },
    );
  });
});
