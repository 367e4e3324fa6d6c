/**
 * Tabs and commas between the groups of a card: PostgreSQL prints a text array as
 * "{4111,1111,1111,1111}" (string_to_array of a card), COPY and `paste` join fields with tabs,
 * JSON and Python lists with ", ". A reader sees the card, so it is masked, in a value and in a
 * stream. They join a card like '_' or '|' do (three or more groups of 3-6 digits, Luhn-valid),
 * and not numbers written with thousands separators, dates, times, versions or CSV fields.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";

const masker = allDetectorsMasker();
const streamed = (chunks: string[]) => streamedThrough(masker, chunks);

describe("a card grouped by tabs or commas", () => {
  it.each([
    ["4111\t1111\t1111\t1111", "[REDACTED:card]"],
    ["4111,1111,1111,1111", "[REDACTED:card]"],
    ["{4111,1111,1111,1111}", "{[REDACTED:card]}"],
    ["[4111, 1111, 1111, 1111]", "[[REDACTED:card]]"],
    ["3782\t822463\t10005", "[REDACTED:card]"],
    ["card\t4111,1111,1111,1111\texp\t12/29", "card\t[REDACTED:card]\texp\t12/29"],
    ["1\t4111111111111111\t12/29", "1\t[REDACTED:card]\t12/29"],
    ["4111\uff0c1111\uff0c1111\uff0c1111", "[REDACTED:card]"],
  ])("%j", (text, masked) => {
    expect(masker.maskText(text)).toBe(masked);
    expect(masker.maskValue(text)).toBe(masked);
    for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut), "\n"]), `cut ${cut}`).toBe(`${masked}\n`);
  });

  it("other values next to tabs and commas are still found", () => {
    expect(masker.maskText("10.0.0.1,10.0.0.2")).toBe("[REDACTED:ipv4],[REDACTED:ipv4]");
    expect(masker.maskText("alice@example.com\t555-123-4567\t123-45-6789")).toBe("[REDACTED:email]\t[REDACTED:phone]\t[REDACTED:ssn]");
  });
});

describe("ordinary numbers with tabs and commas stay", () => {
  it.each([
    "total 234,567,890,123,456 bytes",
    "1,234,567,890,123,456",
    "2026-11-27\t14:30:05,123\tINFO\tstarted in 4,512 ms",
    "id,year,month,day\n1,2026,11,27\n2,2026,11,28",
    "pid\t4123\tppid\t1\tvsz\t123456",
    "node 20.20.2, npm 10.8.2, tsc 5.9.3",
    "cpu\t12,5\t13,1\t99,0",
    "a,b,c\n12,345,6789",
  ])("%j", (text) => {
    expect(masker.maskText(text)).toBe(text);
  });
});

describe("property: streamed equals whole-text masking with tabs and commas", () => {
  const part = fc.constantFrom("4111", "1111", "4111\t1111\t1111\t1111", "4111,1111,1111,1111", ",", ", ", "\t", " ", "\n", "2026", "x");
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
