import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ScreenModel } from "./screen";
import { dropScrolledOff, isPlainOutput } from "./scroll-skip";

const ROWS = 6;
const COLS = 20;

describe("dropScrolledOff", () => {
  const lines = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `\x1b[3${(from + i) % 8}mline ${from + i} ${"x".repeat(60)}\x1b[0m\r\n`).join("");

  it("keeps the last 2·rows+1 lines and every colour change before them", () => {
    const chunk = lines(200);
    const cut = dropScrolledOff(chunk, ROWS);
    const tail = lines(2 * ROWS + 1, 200 - 2 * ROWS - 1);
    expect(cut.length).toBeLessThan(chunk.length / 5);
    expect(cut.endsWith(tail)).toBe(true);
    expect(cut.slice(0, cut.length - tail.length)).toBe(chunk.slice(0, chunk.length - tail.length).match(/\x1b\[[0-9;]*m/g)!.join(""));
  });

  it("leaves short chunks and chunks without enough lines alone", () => {
    expect(dropScrolledOff(lines(10), ROWS)).toBe(lines(10));
    const oneLongLine = "y".repeat(10_000) + "\r\n" + lines(3);
    expect(dropScrolledOff(oneLongLine, ROWS)).toBe(oneLongLine);
  });

  it("knows plain output from anything that changes terminal state", () => {
    expect(isPlainOutput("text \x1b[1;38;5;200mcolour\x1b[0m\ttab\x07\r\n")).toBe(true);
    for (const s of ["\x1b[5;1H", "\x1b[2;5r", "\x1b[?1049h", "\x1b[K", "a\bb", "\x0b", "\x1b]0;t\x07", "\x1b(0", "\x1b[>4;2m", "\x0e"]) expect(isPlainOutput(s), JSON.stringify(s)).toBe(false);
  });
});

/** Output pieces: mostly log lines (some long enough to wrap, some with background colour), sometimes state changes. */
const plainLine = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.string({ minLength: 0, maxLength: 50, unit: fc.constantFrom("a", "b", " ", "é", "漢", "🎉", "\t", "\x07") }), fc.constantFrom("\r\n", "\r\n", "\r\n", "\r", "")).map(([c, bg, text, end]) => `\x1b[3${c}${bg ? `;4${(c + 1) % 8}` : ""}m${text}\x1b[0m${end}`);
const stateChange = fc.constantFrom("\x1b[2;5r", "\x1b[r", "\x1b[?1049h", "\x1b[?1049l", "\x1b[3;4H", "\x1b[K", "\x1b[2J", "\x1b[4h", "\x1b[4l", "\x1b[?45h\b\b", "\x1b[?7l", "\x1b[?7h", "\x1b[44m", "x\by");
const chunk = fc.oneof({ weight: 4, arbitrary: fc.array(plainLine, { minLength: 150, maxLength: 400 }).map((l) => l.join("")) }, { weight: 1, arbitrary: fc.array(fc.oneof(plainLine, stateChange), { minLength: 1, maxLength: 30 }).map((l) => l.join("")) });

/** `[chunk, keyframe after it?]`: keyframes flush the emulator, after which the scroll region is known again. */
async function screenOf(chunks: [string, boolean][], skip: boolean) {
  const s = new ScreenModel(COLS, ROWS, skip);
  for (const [c, keyframe] of chunks) {
    await s.write(c);
    if (keyframe) await s.snapshot();
  }
  const snap = await s.snapshot();
  s.dispose();
  return snap.init;
}

describe("ScreenModel with scrolled-off output skipped", () => {
  it("shows exactly the screen of writing everything", async () => {
    let cutSomething = false;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(chunk, fc.boolean()), { minLength: 1, maxLength: 12 }), async (chunks) => {
        cutSomething ||= chunks.some(([c]) => isPlainOutput(c) && dropScrolledOff(c, ROWS) !== c);
        expect(await screenOf(chunks, true)).toBe(await screenOf(chunks, false));
      }),
      { numRuns: 150, interruptAfterTimeLimit: 40_000 },
    );
    expect(cutSomething).toBe(true);
  });
});
