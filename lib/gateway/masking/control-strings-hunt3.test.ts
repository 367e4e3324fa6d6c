/**
 * A control string (OSC, DCS, APC, PM, SOS) does not end at a line break: terminals (xterm, VTE,
 * tmux) ignore C0 controls inside one, LF and CR included, and print nothing until BEL (OSC), ST,
 * CAN or SUB. So "4111 1111 \e]0;x\ny\a1111 1111" shows one card on one row. The grammar, the
 * whole-text detectors and the stream masker all read such a string as one sequence, across
 * lines and chunks alike.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { allDetectorsMasker, chunksAt, streamedThrough } from "./chunks.testkit";
import { sequenceEnd } from "./detectors/escapes";

const masker = allDetectorsMasker();
const streamed = (chunks: string[]) => streamedThrough(masker, chunks);

const STRINGS = {
  "an OSC title with a LF": "\x1b]0;a\nb\x07",
  "an OSC title with CRLFs (ST)": "\x1b]2;\r\nx\r\n\x1b\\",
  "a DCS string with a LF": "\x1bP1;2|x\ny\x1b\\",
  "an APC string with a LF": "\x1b_hid\nden\x1b\\",
  "a C1 OSC with a LF": "\x9d0;t\nu\x9c",
};

describe("a control string spanning lines", () => {
  it("is one sequence up to its terminator", () => {
    for (const [name, seq] of Object.entries(STRINGS)) expect(sequenceEnd(`${seq}1111`, 0), name).toBe(seq.length);
    // CAN and SUB still cancel it; a new sequence still ends it before its ESC
    expect(sequenceEnd("\x1b]0;a\nb\x18", 0)).toBe(8);
    expect(sequenceEnd("\x1b]0;a\n\x1b[1m", 0)).toBe(6);
  });

  it.each(Object.entries(STRINGS))("hiding part of a card: %s (whole text and every two-part chunking)", (_name, seq) => {
    for (const text of [`card 4111 1111 ${seq}1111 1111 ok\n$ `, `card 4111${seq}1111 1111 1111 ok\n$ `, `mail bob${seq}@example.com ok\n$ `]) {
      const out = masker.maskText(text);
      expect(out, JSON.stringify(text)).toMatch(/^(card|mail) \[REDACTED:(card|email)\] ok\n\$ $/);
      for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)]), `${JSON.stringify(text)} cut ${cut}`).toBe(out);
      expect(streamed([...text])).toBe(out);
    }
  });

  it("a value in the payload after the line break is still masked, and plain lines around it are left alone", () => {
    const text = "ok\n\x1b]0;title\nbob@example.com\x07$ ls\nREADME\n";
    const out = "ok\n\x1b]0;title\n[REDACTED:email]\x07$ ls\nREADME\n";
    expect(masker.maskText(text)).toBe(out);
    expect(streamed([...text])).toBe(out);
  });
});

// (not dash-grouped: a sequence inside a group of one is a known gap, escapes.ts)
describe("a sequence between the letters of an address or a key", () => {
  it.each([
    ["mail bob@exa\x1b]0;x\x07mple.com ok\n", "mail [REDACTED:email] ok\n"],
    ["mail bob@example\x1b[1m.com ok\n", "mail [REDACTED:email] ok\n"],
    ["key AKIA\x1b[0mIOSFODNN7EXAMPLE ok\n", "key [REDACTED:aws-key] ok\n"],
    ["key AKIAIOSF\x1b]2;t\nu\x07ODNN7EXAMPLE ok\n", "key [REDACTED:aws-key] ok\n"],
    ["t ghp_\x1b[1mabcdefghijklmnopqrstuvwxyz0123456789 ok\n", "t [REDACTED:github-token] ok\n"],
  ])("%j is masked whole (and streamed alike)", (text, masked) => {
    expect(masker.maskText(text)).toBe(masked);
    for (let cut = 0; cut <= text.length; cut++) expect(streamed([text.slice(0, cut), text.slice(cut)]), `cut ${cut}`).toBe(masked);
  });

  it("coloured output that holds no value stays as it was", () => {
    for (const text of ["src/a.ts:\x1b[01;31m\x1b[Kfoo\x1b[m\x1b[Kbar baz\n", "\x1b[01;34mbin\x1b[0m  \x1b[01;32mrun.sh\x1b[0m\n", "\x1b[32m+added\x1b[m line 42\n", "card 4111 1111 1111 1111\x1b[0mok\n".replace(/4111 1111 1111 1111/, "order 12")]) {
      expect(masker.maskText(text)).toBe(text);
      expect(streamed([...text])).toBe(text);
    }
    // a value glued to letters by a sequence is still masked on its own
    expect(masker.maskText("card 4111 1111 1111 1111\x1b[0mok\n")).toBe("card [REDACTED:card]\x1b[0mok\n");
  });
});

const card = fc.constantFrom("4111 1111 1111 1111", "5500 0000 0000 0004", "4012888888881881");
const quiet = fc.constantFrom(...Object.values(STRINGS), "\x1b[1m");
const noise = fc.string({ unit: fc.constantFrom(..."ab19 .-@\n\r\x07".split("")), maxLength: 10 });
const opener = fc.constantFrom("\x1b]0;", "\x1bP", "\x1b_", "\x9d");
const text = fc.array(fc.oneof(noise, card, quiet, opener), { maxLength: 8 }).map((parts) => parts.join(""));

describe("property: control strings across lines", () => {
  it("a CR without its LF ends no number row, streamed or whole (a case the property below found)", () => {
    const t = "\r5500 0000 0000 0004\n1@";
    expect(masker.maskText(t)).toBe("\r[REDACTED:card]\n1@");
    for (let cut = 0; cut <= t.length; cut++) expect(streamed([t.slice(0, cut), t.slice(cut)]), `cut ${cut}`).toBe("\r[REDACTED:card]\n1@");
  });


  it("streamed masking equals whole-text masking for any chunking", () => {
    fc.assert(
      fc.property(text, fc.array(fc.nat(), { maxLength: 8 }), (t, cuts) => {
        expect(streamed(chunksAt(t, cuts))).toBe(masker.maskText(t));
      }),
      { numRuns: 3000 },
    );
  });

  it("a card split by complete control strings holding line breaks never survives", () => {
    fc.assert(
      fc.property(card, fc.array(fc.tuple(fc.integer({ min: 1, max: 15 }), quiet), { minLength: 1, maxLength: 3 }), (value, inserts) => {
        const gaps = new Map(inserts);
        const v = [...value].map((d, k) => (gaps.get(k) ?? "") + d).join("");
        expect(masker.maskText(`pay ${v} now\n`)).toBe("pay [REDACTED:card] now\n");
      }),
      { numRuns: 1000 },
    );
  });
});
