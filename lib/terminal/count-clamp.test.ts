import { describe, expect, it } from "vitest";
import { clampScreenSize, CountClamp } from "./count-clamp";

const size = { cols: 80, rows: 24 };
const clampAll = (chunks: string[], s = size) => {
  const c = new CountClamp(() => s);
  return chunks.map((d) => c.text(d)).join("");
};

describe("CountClamp", () => {
  it("bounds the counts xterm.js loops over: lines and scrolls by rows, tabs by cols, repeats by the screen", () => {
    expect(clampAll(["\x1b[2147483647L\x1b[99999M\x1b[99999S\x1b[99999T"])).toBe("\x1b[24L\x1b[24M\x1b[24S\x1b[24T");
    expect(clampAll(["\x1b[2147483647I\x1b[2147483647Z"])).toBe("\x1b[80I\x1b[80Z");
    expect(clampAll(["a\x1b[2147483647b"])).toBe("a\x1b[1920b");
    expect(clampAll(["\x9b2147483647L"])).toBe("\x9b24L");
  });

  it("leaves ordinary output, small counts and other sequences as they were", () => {
    const ordinary = "\x1b[1;32mops@web\x1b[0m:~$ ls\r\n\x1b[5L\x1b[2J\x1b[H\x1b[?1049h\x1b[38;2;255;0;0mred\x1b]0;title 99999999L\x07\x1b[99999;99999H日本語";
    expect(clampAll([ordinary])).toBe(ordinary);
    // A prefix or an intermediate makes it another sequence (not a count).
    expect(clampAll(["\x1b[?99999S\x1b[99999 @"])).toBe("\x1b[?99999S\x1b[99999 @");
  });

  it("holds a sequence split across writes, and sees through C0 controls inside it like xterm.js", () => {
    expect(clampAll(["x\x1b", "[2147", "483647", "L", "y"])).toBe("x\x1b[24Ly");
    // xterm.js executes the newline and reads the count as 2147483647 all the same: clamping
    // each run of digits ("24\n24") would still make it 2424.
    expect(clampAll(["\x1b[21474836\n47L"])).toBe("\n\x1b[24L");
    expect(clampAll(["\x1b[2\x7f0\x00L"])).toBe("\x00\x1b[20L");
  });

  it("drops a sequence longer than any real one, even across writes", () => {
    const c = new CountClamp(() => size);
    const out = [c.text("a\x1b[" + "0".repeat(400)), c.text("0".repeat(400)), c.text("2147483647Lb")].join("");
    expect(out).toBe("ab");
  });

  it("works on bytes, with C1 CSI as UTF-8 and invalid UTF-8 untouched", () => {
    const c = new CountClamp(() => size);
    const enc = (s: string) => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
    const out = [c.bytes(enc("\xff\xfe\x1b[2147483647L\xc2")), c.bytes(enc("\x9b99999M\x00"))];
    expect(Buffer.concat(out).toString("latin1")).toBe("\xff\xfe\x1b[24L\xc2\x9b24M\x00");
  });

  it("bounds a screen size to 500×300", () => {
    expect(clampScreenSize(100_000, 4_294_967_295)).toEqual({ cols: 500, rows: 300 });
    expect(clampScreenSize(0, Number.NaN)).toEqual({ cols: 1, rows: 300 });
    expect(clampScreenSize(80, 24)).toEqual({ cols: 80, rows: 24 });
  });
});
