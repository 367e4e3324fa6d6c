import { describe, expect, it } from "vitest";
import { ScreenModel } from "./screen";

/**
 * The keyframe property replay depends on: restoring a snapshot taken after any prefix of the
 * output and then writing the rest gives exactly the screen of writing everything in one go.
 */
async function screenOf(chunks: string[], cols = 40, rows = 10) {
  const s = new ScreenModel(cols, rows);
  for (const c of chunks) await s.write(c);
  const snap = await s.snapshot();
  s.dispose();
  return snap;
}

async function resumed(chunks: string[], at: number, cols = 40, rows = 10) {
  const before = await screenOf(chunks.slice(0, at), cols, rows);
  const s = await ScreenModel.from(before);
  for (const c of chunks.slice(at)) await s.write(c);
  const snap = await s.snapshot();
  s.dispose();
  return snap;
}

const SCENARIOS: Record<string, string[]> = {
  "coloured shell output that scrolls": Array.from({ length: 30 }, (_, i) => `\x1b[3${i % 8}mline ${i}\x1b[0m tail ${"x".repeat(i % 50)}\r\n`),
  "a prompt with the cursor mid-line, then typing": ["\x1b[1;32mops@web\x1b[0m:~$ ", "l", "s", " -l", "\r\n", "total 0\r\n", "\x1b[1;32mops@web\x1b[0m:~$ "],
  "a full-screen program on the alternate screen, then back": [
    "before\r\n",
    "\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J",
    "\x1b[1;1H\x1b[7m top \x1b[0m",
    "\x1b[5;10Hload 0.42",
    "\x1b[5;10Hload 0.57",
    "\x1b[?25h\x1b[?1049l",
    "after\r\n",
  ],
  "a scroll region with a hidden cursor (less, vim)": ["\x1b[2J\x1b[H\x1b[2;8r\x1b[?25l", "\x1b[8;1H", "a\r\nb\r\nc\r\nd\r\ne\r\nf\r\ng\r\nh\r\ni\r\n", "\x1b[1;1Hstatus", "\x1b[8;1Hmore\r\nlines\r\n"],
  "a colour left on across a keyframe": ["\x1b[31;1mred", " still red", "\x1b[0m plain"],
  "wide characters and emoji": ["日本語のテキスト\r\n", "🎉 done ✓\r\n", "mixed ascii 漢字 text that wraps past the fortieth column of the screen\r\n"],
};

describe("ScreenModel snapshots", () => {
  for (const [name, chunks] of Object.entries(SCENARIOS)) {
    it(`resume from any keyframe = play from the start: ${name}`, async () => {
      const whole = await screenOf(chunks);
      for (let at = 0; at <= chunks.length; at++) {
        expect((await resumed(chunks, at)).init, `resumed after chunk ${at}`).toBe(whole.init);
      }
    });
  }

  it("keeps the cursor hidden and the scroll region across a keyframe", async () => {
    const snap = await screenOf(["\x1b[3;6r\x1b[?25l\x1b[4;2Hx"]);
    expect(snap.init).toContain("\x1b[3;6r");
    expect(snap.init.endsWith("\x1b[?25l")).toBe(true);
    expect(snap.init).toContain("\x1b[4;3H");
  });

  it("follows resizes", async () => {
    const s = new ScreenModel(80, 24);
    await s.write("hello");
    await s.resize(100, 30);
    const snap = await s.snapshot();
    expect([snap.cols, snap.rows]).toEqual([100, 30]);
    expect(snap.init).toContain("hello");
  });

  it("keeps OSC side effects (title, clipboard, hyperlinks) out of the snapshot text", async () => {
    const snap = await screenOf(["\x1b]0;pwned title\x07", "\x1b]52;c;cHduZWQ=\x07", "\x1b]8;;javascript:alert(1)\x07link\x1b]8;;\x07", " <b>not html</b>"]);
    expect(snap.init).not.toContain("pwned title");
    expect(snap.init).not.toContain("]52;");
    expect(snap.init).not.toContain("javascript:");
    expect(snap.init).toContain("link");
    expect(snap.init).toContain(" <b>not html</b>");
  });
  it("a write larger than one emulator write, split inside an emoji or an escape sequence, shows the same screen", async () => {
    // one emulator write holds 16 Ki characters: put a surrogate pair or an escape sequence across the cut
    const cut = 16 * 1024;
    for (const [what, piece] of [["an emoji", "🎉"], ["a colour", "\x1b[38;5;196m"], ["an OSC title", "\x1b]0;t\x07"], ["a cursor move", "\x1b[3;5H"]] as const) {
      const tail = `x${piece}after\x1b[0m`;
      const big = "\r\n".repeat(cut / 2 - 1) + tail; // the piece starts 1 before the cut
      expect(big.slice(0, cut).endsWith(piece), what).toBe(false);
      const short = await screenOf([`${"\r\n".repeat(20)}${tail}`]);
      expect((await screenOf([big])).init, what).toBe(short.init);
    }
    expect((await screenOf([`${"\r\n".repeat(20)}x🎉after`])).init).toContain("x🎉after");
  });
});
