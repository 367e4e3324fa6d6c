/**
 * A column of numbers (`seq`, line numbers, years, sorted ids, one per row) is not a value broken
 * over rows, even where its rows, joined, spell a Luhn-valid card: rows that follow one another
 * (1 to 9 apart, three digits or more) keep their breaks. A value's parts still join: its groups
 * are equal or far apart, and a part may start with 0.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";
import { luhnCheckDigit } from "./checksums";

const masker = allDetectorsMasker();

describe("a column of numbers stays as it is", () => {
  it.each([
    ["seq 4000048 4000049 (joined: a Luhn-valid 14-digit card)", "4000048\n4000049\n"],
    ["years, one per row (joined: 2023202420252026)", "2023\n2024\n2025\n2026\n"],
    ["seq after its prompt", "$ seq 20002 20004\n20002\n20003\n20004\n$ "],
    ["a countdown", "4000079\n4000078\n"],
    ["CRLF rows", "2029\r\n2030\r\n2031\r\n2032\r\n"],
  ])("%s, whole and streamed in any two chunks", (_what, text) => {
    expect(masker.maskText(text)).toBe(text);
    for (let cut = 0; cut <= text.length; cut++) expect(streamedThrough(masker, [text.slice(0, cut), text.slice(cut)]), `cut ${cut}`).toBe(text);
    expect(streamedThrough(masker, [...text])).toBe(text);
  });
});

describe("a value broken over rows is still joined", () => {
  it.each([
    ["one group per row", "4111\n1111\n1111\n1111\n"],
    ["groups that start with 0", "5500\n0000\n0000\n0004\n"],
    ["halves", "4111111\n111111111\n"],
    ["fold -w 4 of a compact card", "4000\n0000\n0000\n0002\n"],
  ])("%s", (_what, text) => {
    expect(masker.maskText(text)).toBe("[REDACTED:card]\n");
    expect(streamedThrough(masker, [...text])).toBe("[REDACTED:card]\n");
  });

  const card = fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 14, maxLength: 14 }).map((d) => {
    const partial = `4${d.join("")}`;
    return partial + luhnCheckDigit(partial);
  });

  it("property: a compact card folded at any width of 4 to 8, or printed in two halves, is masked (unless two rows follow one another, 1 to 9 apart)", () => {
    fc.assert(
      fc.property(card, fc.integer({ min: 4, max: 8 }), fc.integer({ min: 4, max: 12 }), fc.array(fc.nat(), { maxLength: 4 }), (value, width, half, cuts) => {
        for (const rows of [value.match(new RegExp(`.{1,${width}}`, "g"))!, [value.slice(0, half), value.slice(half)]]) {
          const nums = rows.map(Number);
          if (rows.some((r, k) => k > 0 && r.length >= 3 && rows[k - 1].length >= 3 && r[0] !== "0" && Math.abs(nums[k] - nums[k - 1]) >= 1 && Math.abs(nums[k] - nums[k - 1]) <= 9)) continue;
          const text = `${rows.join("\n")}\n`;
          expect(masker.maskText(text)).toBe("[REDACTED:card]\n");
          expect(streamedThrough(masker, chunksAt(text, cuts))).toBe("[REDACTED:card]\n");
        }
      }),
      { numRuns: 500 },
    );
  });
});
