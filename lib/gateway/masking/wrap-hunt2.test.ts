/**
 * A value split by a line break where the terminal wraps anyway (a program wrapping its output
 * to the terminal's width) is shown over two rows like one the terminal wrapped itself: masked
 * whole when the stream knows the width. Breaks elsewhere stay breaks, and every break survives
 * where no value covers it.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "./catalog";
import { chunksAt } from "./chunks.testkit";
import { luhnCheckDigit } from "./checksums";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";
import { maskWrapped } from "./wrap";

const masker = compileMasker([{ id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" }], { hashKey: "k" });

function streamed(chunks: string[], columns: number): string {
  const s = createStreamMasker(masker, { columns: () => columns });
  return chunks.map((c) => s.push(c)).join("") + s.flush();
}

/** `text` cut into rows of `width` with `brk` after each: what `fold -w`, or psql's wrapped format, prints. */
const folded = (text: string, width: number, brk = "\r\n") => (text.match(new RegExp(`.{1,${width}}`, "g")) ?? [""]).join(brk);

describe("a line break at the terminal's wrap boundary", () => {
  it("does not split a card (whole text and every chunking)", () => {
    const text = `$ cat cards\r\n${folded("customer 42 paid with 4111 1111 1111 1111 on monday", 24)}\r\n$ `;
    expect(text).toContain("with 41\r\n11 1111");
    const expected = "$ cat cards\r\ncustomer 42 paid with [REDACTED:card] on mon\r\nday\r\n$ ";
    expect(maskWrapped(masker, text, 24)).toBe(expected);
    for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)], 24), `cut ${cut}`).toBe(expected);
    expect(streamed([...text], 24)).toBe(expected);
  });

  it("nor an email or an SSN, after escape sequences and wide characters on the row", () => {
    const row = "\x1b[1m名前\x1b[0m: alice.smi"; // 2 + 2 + ": alice.smi" = 15 columns
    expect(maskWrapped(masker, `${row}\nth@example.com ok\n`, 15)).toBe("\x1b[1m名前\x1b[0m: [REDACTED:email] ok\n");
    expect(maskWrapped(masker, `ssn 123-4\n5-6789\n`, 9)).toBe("ssn [REDACTED:ssn]\n");
  });

  it("rows the terminal wrapped itself count: a break after two full rows is at the boundary", () => {
    expect(maskWrapped(masker, `${"x".repeat(9)}card 4111 1\r\n111 1111 1111\r\n`, 10)).toBe(`${"x".repeat(9)}card [REDACTED:card]\r\n`);
  });

  it("is kept where no value covers it", () => {
    for (const text of [`${"a".repeat(9)}1\n2 apples\n`, `${"a".repeat(8)}42\nok\n`, `card 4111111111111111\n99 apples\n`.padStart(30, " ")]) {
      expect(maskWrapped(masker, text, 10).replace("[REDACTED:card]", "")).toBe(masker.maskText(text).replace("[REDACTED:card]", ""));
    }
  });

  it("a break elsewhere between digits does not split either (fold -w 8 on a wider terminal; line-breaks-hunt3.test.ts)", () => {
    const text = `${folded("4111 1111 1111 1111", 8)}\r\n`;
    expect(maskWrapped(masker, text, 80)).toBe("[REDACTED:card]\r\n");
  });

  it("without a known width, streams as before", () => {
    const text = `${folded("card 4111 1111 1111 1111", 12)}\r\n`;
    expect(streamed([text], 0)).toBe(masker.maskText(text));
  });
});

describe("property: streamed equals whole with soft breaks", () => {
  const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(""));
  const card = digits(14).map((d) => {
    const partial = `4${d}`;
    return (partial + luhnCheckDigit(partial)).replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  const piece = fc.oneof(card, fc.constantFrom("bob@example.com", "123-45-6789", "ok", " ", "\x1b[1m", "\x1b]0;t\x07", "名", "\t", "x", "42"));
  const text = fc.tuple(fc.array(piece, { maxLength: 10 }), fc.integer({ min: 3, max: 20 }), fc.constantFrom("\n", "\r\n")).map(([parts, width, brk]) => ({ text: folded(parts.join(" "), width, brk) + brk, width }));

  it("for any chunking", () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), ({ text: t, width }, cuts) => {
        expect(streamed(chunksAt(t, cuts), width)).toBe(maskWrapped(masker, t, width));
      }),
      { numRuns: 2000 },
    );
  });
});

describe("the stand-ins", () => {
  it("a text that holds one already is masked as before, the character untouched", () => {
    const text = `x\u2064y card 4111 1\r\n111 1111 1111\r\n`;
    const s = createStreamMasker(masker, { columns: () => 16 });
    expect(s.push(text) + s.flush()).toBe(masker.maskText(text));
    const plain = createStreamMasker(masker);
    expect(plain.push("a\u2063b\n") + plain.flush()).toBe("a\u2063b\n");
  });
});
