/**
 * A value broken over lines at an arbitrary column (`fold -w 7`, `printf '%s\n'` of its halves,
 * one group per line as `xargs -n1` prints it, a pager or a narrow column) is read by a person
 * as one value. A line break between the digits of a number (at most one separator next to it)
 * is therefore read as no break, whatever the terminal's width, and whether the width is known
 * or not; a break no value covers is kept, and a value that one line holds on its own is masked
 * as before (joining only adds).
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

function streamed(chunks: string[], columns = 0): string {
  const s = createStreamMasker(masker, { columns: () => columns });
  return chunks.map((c) => s.push(c)).join("") + s.flush();
}

/** `text` cut into rows of `width`, as `fold -w` prints it. */
const fold = (text: string, width: number, brk = "\n") => (text.match(new RegExp(`.{1,${width}}`, "g")) ?? [""]).join(brk);

describe("a value broken over lines at any column", () => {
  it.each([
    ["fold -w 7", `${fold("4111 1111 1111 1111", 7)}\n`, "[REDACTED:card]\n"],
    ["fold -w 5, CRLF", `${fold("4111 1111 1111 1111", 5, "\r\n")}\r\n`, "[REDACTED:card]\r\n"],
    ["printf '%s\\n' of the halves", "4111111\n111111111\n", "[REDACTED:card]\n"],
    ["one group per line", "4111\n1111\n1111\n1111\n", "[REDACTED:card]\n"],
    ["an SSN cut after its first dash", "ssn 123-\n45-6789 ok\n", "ssn [REDACTED:ssn] ok\n"],
    ["a phone cut after a dash", "call 555-123-\n4567 now\n", "call [REDACTED:phone] now\n"],
    ["a card cut mid-row by a fold as wide as the line before", "1111 1111 1111 1111\n5500 0000 00\n00 0004\n", "1111 1111 1111 1111\n[REDACTED:card]\n"],
    ["an IBAN cut between digits", "DE89 3704 00\n44 0532 0130 00\n", "[REDACTED:iban]\n"],
  ])("%s: masked whole, without a known width and on an 80-column terminal, for every chunking", (_what, text, masked) => {
    for (const columns of [0, 80]) {
      expect(maskWrapped(masker, text, columns), `columns ${columns}`).toBe(masked);
      for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)], columns), `columns ${columns} cut ${cut}`).toBe(masked);
      expect(streamed([...text], columns)).toBe(masked);
    }
  });

  it("a value on a line of its own stays masked when the next line starts with a digit", () => {
    expect(maskWrapped(masker, "4111 1111 1111 1111\n2 items\n", 0)).toBe("[REDACTED:card]\n2 items\n");
    // (joined, "411111111111111142" is a card of 18 digits: the "42" may be masked with it)
    expect(maskWrapped(masker, "4111111111111111\n42 apples\n", 0)).toMatch(/^\[REDACTED:card\]\n?(42)? apples\n$/);
    expect(maskWrapped(masker, "10.0.0.1\n10.0.0.2\n", 0)).toBe("[REDACTED:ipv4]\n[REDACTED:ipv4]\n");
    // the next line's value needs folding: joined, the two run into one overlong number
    expect(masker.maskText("4111 1111 1111 1111\n\uff14\uff11\uff11\uff11 1111 1111 1111 ok\n")).toBe("[REDACTED:card]\n[REDACTED:card] ok\n");
  });

  it("in a SQL text value too (maskValue), breaks kept where no value covers them", () => {
    expect(masker.maskValue("card 4111 1111\n1111 1111\nthanks")).toBe("card [REDACTED:card]\nthanks");
    expect(masker.maskValue("line 1\n2 lines\r\n3")).toBe("line 1\n2 lines\r\n3");
  });
});

describe("ordinary output keeps its line breaks and stays unmasked", () => {
  it.each([
    ["numbers one per line", "1\n2\n3\n10\n100\n"],
    ["prose", "The quick brown fox\njumps over the lazy dog.\nSee section 4\n2 of the guide.\n"],
    ["log lines", "took 12\n2026-11-27 14:30:05 INFO started\n2026-11-27 14:30:06 INFO ready on port 5432\n"],
    ["versions", "node v20.20.2\n5.9.3\nnpm 10.8.2\n"],
    ["a table", "PID TTY TIME CMD\n 4123 pts/0 00:00:00 bash\n 4190 pts/0 00:00:00 ps\n"],
    ["a year after a time", "at 14:30\n2026\n"],
  ])("%s", (_what, text) => {
    expect(maskWrapped(masker, text, 0)).toBe(text);
    expect(streamed([...text])).toBe(text);
  });
});

describe("property: streamed equals whole-text masking with line breaks between digits", () => {
  const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(""));
  const card = digits(14).map((d) => {
    const partial = `4${d}`;
    return (partial + luhnCheckDigit(partial)).replace(/(\d{4})(?=\d)/g, "$1 ");
  });
  const piece = fc.oneof(card, fc.constantFrom("bob@example.com", "123-45-6789", "ok", " ", "\x1b[1m", "42", "7", "-", "."));
  const text = fc
    .tuple(fc.array(piece, { maxLength: 8 }), fc.integer({ min: 2, max: 12 }), fc.constantFrom("\n", "\r\n"), fc.constantFrom(0, 9, 80))
    .map(([parts, width, brk, columns]) => ({ text: fold(parts.join(" "), width, brk) + brk, columns }));

  it("for any chunking, any fold width, with and without a known terminal width", () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 6 }), ({ text: t, columns }, cuts) => {
        expect(streamed(chunksAt(t, cuts), columns)).toBe(maskWrapped(masker, t, columns));
      }),
      { numRuns: 2000 },
    );
  });

  it("read in windows around the breaks (nothing else folds) as when the whole text is folded", () => {
    // an NBSP on a row of its own makes the scanner fold the whole text instead of windows around the breaks
    const numeric = fc.array(fc.oneof(card, fc.constantFrom("123-45-6789", "555-123-4567", "10.0.0.1", "42", "7", " ", "-", "x", "ok")), { maxLength: 10 });
    fc.assert(
      fc.property(numeric, fc.integer({ min: 1, max: 12 }), fc.constantFrom("\n", "\r\n"), (parts, width, brk) => {
        const t = fold(parts.join(" "), width, brk) + brk;
        expect(masker.maskText(t)).toBe(masker.maskText(`${t}\n\u00a0`).slice(0, -2));
      }),
      { numRuns: 2000 },
    );
  });

  it("a card folded at any width never survives", () => {
    fc.assert(
      fc.property(card, fc.integer({ min: 1, max: 18 }), fc.constantFrom("\n", "\r\n"), (value, width, brk) => {
        const out = maskWrapped(masker, `${fold(`pay ${value}`, width, brk)}${brk}ok${brk}`, 0);
        expect(out.replace(/\r?\n/g, "")).not.toMatch(/\d{4}/);
      }),
      { numRuns: 1000 },
    );
  });
});
