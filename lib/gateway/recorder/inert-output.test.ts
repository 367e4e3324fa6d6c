import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { playInTerminal } from "@/tests/support/viewer-terminal";
import { InertTerminalOutput } from "./inert-output";

const play = (chunks: string[]) => playInTerminal(chunks);

const inert = (chunks: string[]) => {
  const f = new InertTerminalOutput();
  return chunks.map((c) => f.write(c));
};

const HOSTILE = [
  "\x1b]52;c;cm0gLXJmIH4K\x07", // clipboard write
  "\x1b]0;pwned\x07\x1b]2;pwned\x1b\\", // titles, BEL and ST ended
  "\x1b[21t", // report the title back: types it into the viewer's shell
  "\x1b[6n\x1b[?6n\x1b[5n", // cursor position and status reports
  "\x1b[c\x1b[>c\x1b[=c", // device attributes
  "\x1bP$qm\x1b\\", // DECRQSS
  "\x1bP+q544e\x1b\\", // XTGETTCAP
  "\x1bPtmux;\x1b\x1b]52;c;eA==\x07\x1b\\", // tmux passthrough
  "\x1b_Gf=100,t=f;L2V0Yy9wYXNzd2Q=\x1b\\", // kitty graphics reading a file
  "\x1b^pm\x1b\\\x1bXsos\x1b\\",
  "\x1b[>q\x1b[?u\x1b[?2;1;0S\x1b[?2026$p\x1b[1x\x1b[8;100;300t",
  "\x1bZ", // DECID
  "\x9b6n\x9d52;c;eA==\x07\x90$qm\x9c", // the same with 8-bit introducers
  "\x1b\x9b6n", // ESC before a C1 introducer
  "\x1b]8;;https://evil.example/\x07click\x1b]8;;\x07", // a hyperlink: its text stays
];

describe("InertTerminalOutput: a cast played in someone's terminal", () => {
  it("the raw bytes make a real terminal answer, set titles and take clipboard writes; made inert, none of it", async () => {
    const raw = await play(HOSTILE);
    expect(raw.acted.filter((a) => a.startsWith("answer")).length).toBeGreaterThan(5);
    expect(raw.acted).toEqual(expect.arrayContaining([expect.stringMatching(/^osc 52 /), "title pwned", expect.stringMatching(/^decrqss /)]));
    const safe = await play(inert(HOSTILE));
    expect(safe.acted).toEqual([]);
    expect(safe.screen).toContain("click");
  });

  it("keeps everything that draws, byte for byte: text, colours, cursor movement, modes, charsets, scrolling regions", async () => {
    const drawing = ["plain \x1b[1;31mred\x1b[0m \x1b[38;2;1;2;3mrgb\x1b[m", "\x1b[2J\x1b[H\x1b[5;10Hmoved\x1b[K", "\x1b[?1049h\x1b[?25l\x1b[3;20r\x1b(0lqk\x1b(B", "\x1b7saved\x1b8\x1bM\x1b[2 q\x1b[?2004h\r\n", "é世界🙂\x07\x08"];
    expect(inert(drawing)).toEqual(drawing);
  });

  it("a sequence split across output events is recognised whole", () => {
    expect(inert(["a\x1b", "]52;c;", "eA==", "\x07b"]).join("")).toBe("ab");
    expect(inert(["a\x1b[", "6", "n", "b\x1b[3", "1mc"]).join("")).toBe("ab\x1b[31mc");
    expect(inert(["\x1bP$q", "m\x1b", "\\x"]).join("")).toBe("x");
  });

  it("a C1 control inside a CSI ends it and is judged on its own; ENQ (answerback) is left out", () => {
    expect(inert(["\x1b[\x9am"]).join("")).toBe("m");
    expect(inert(["\x1b[1\x9b6n;2m"]).join("")).toBe(";2m");
    expect(inert(["a\x05b\x1b[3\x051m"]).join("")).toBe("ab\x1b[31m");
  });

  it("a CSI that never ends, or runs past any real one, is not passed on", () => {
    expect(inert(["\x1b[" + "1;".repeat(200) + "6n"]).join("")).not.toContain("\x1b");
    expect(inert(["\x1b[12"]).join("")).toBe("");
  });

  it("property: however hostile output is cut into events, the viewer's terminal does nothing but draw, and cutting changes nothing", async () => {
    const piece = fc.oneof(fc.constantFrom(...HOSTILE, "\x1b", "\x1b[", "\x1b]", "\x1bP", "\x07", "\x1b\\", "\x9b", "\x9d", "\x90", "\x9c", "\x9a", "\x05", "\x18", "6n", "c", "52;c;eA==", "[31m", "text "), fc.string({ maxLength: 4 }));
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 6 }), async (pieces, cuts) => {
        const text = pieces.join("");
        const at = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
        const chunks = [0, ...at].map((from, i, all) => text.slice(from, all[i + 1] ?? text.length));
        const out = inert(chunks);
        expect(out.join("")).toBe(inert([text]).join(""));
        expect((await play(out)).acted).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
