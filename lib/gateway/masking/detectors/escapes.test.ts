import { describe, expect, it } from "vitest";
import { DETECTOR_NAMES } from "../catalog";
import { compileMasker } from "../masker";
import { createStreamMasker } from "../stream";
import type { MaskingRule } from "../types";

const all: MaskingRule = { id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" };
const masker = compileMasker([all], { hashKey: "k" });

function stream(chunks: string[]): string {
  const s = createStreamMasker(masker);
  return chunks.map((c) => s.push(c)).join("") + s.flush();
}

describe("escape sequences inside a value", () => {
  it.each([
    ["a colour between two groups", "4111 1111 \x1b[1m1111 1111\x1b[0m"],
    ["a colour between two digits", "4111\x1b[31m111111111111\x1b[0m"],
    ["a chain of sequences", "4111 1111\x1b[0m\x1b[1;33m 1111 1111"],
    ["a cursor move between digits", "41111111\x1b[C11111111"],
    ["a full-width card with a colour inside", "\uff14\uff11\uff11\uff11\x1b[1m\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11"],
  ])("masks a card with %s", (_what, value) => {
    const out = masker.maskText(`pay ${value} now`);
    expect(out).toMatch(/^pay \[REDACTED:card\](\x1b\[0m)? now$/);
  });

  it("masks an email with a colour around its '@'", () => {
    expect(masker.maskText("to alice\x1b[1m@\x1b[0mexample.com ok")).toBe("to [REDACTED:email] ok");
  });

  it("leaves escape sequences that only border values alone", () => {
    expect(masker.maskText("\x1b[32m4111 1111 1111 1111\x1b[0m ok")).toBe("\x1b[32m[REDACTED:card]\x1b[0m ok");
    expect(masker.maskText("\x1b[1;32mok\x1b[0m 42 \x1b[31m7\x1b[0m")).toBe("\x1b[1;32mok\x1b[0m 42 \x1b[31m7\x1b[0m");
  });

  it("holds a value across chunks split at an escape sequence", () => {
    const line = "card 4111 1111 \x1b[1m1111 1111\x1b[0m end\n";
    const expected = masker.maskText(line);
    expect(expected).toBe("card [REDACTED:card]\x1b[0m end\n");
    for (let cut = 1; cut < line.length; cut++) expect(stream([line.slice(0, cut), line.slice(cut)]), `cut at ${cut}`).toBe(expected);
  });

  it("streams a colour between two digits the way the whole text is masked, full-width digits too", () => {
    for (const line of [`42\x1b[1m\uff14\uff11\uff11\uff11 ${"\uff11\uff11\uff11\uff11 ".repeat(2)}\uff11\uff11\uff11\uff11\n`, "\x1b[1m4111 1111 1111 1111\x1b[1m\n"]) {
      const expected = masker.maskText(line);
      expect(expected).toContain("[REDACTED:card]");
      for (let cut = 0; cut <= line.length; cut++) expect(stream([line.slice(0, cut), line.slice(cut)]), `cut at ${cut}`).toBe(expected);
    }
  });

  it("still emits a coloured prompt at once", () => {
    const s = createStreamMasker(masker);
    expect(s.push("\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ")).toBe("\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ");
    expect(s.push("\x1b[32mok\x1b[0m ")).toBe("\x1b[32mok\x1b[0m ");
  });
});
