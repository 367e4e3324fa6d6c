import { describe, expect, it } from "vitest";
import { ScreenModel } from "./screen";

/**
 * The keyframe pass runs on the thread that serves every gateway listener, over output and pty
 * sizes that the remote host and the client chose: xterm.js looped 2³¹ times for one
 * `CSI 2147483647 L`, and allocated every cell of any pty-req size.
 */
async function screenOf(chunks: string[], cols: number, rows: number) {
  const s = new ScreenModel(cols, rows);
  for (const c of chunks) await s.write(c);
  const snap = await s.snapshot();
  s.dispose();
  return snap;
}

describe("hostile terminal output on the server's screen", () => {
  it("bounds a recorded pty size, so a pty-req of any size does not allocate every cell", async () => {
    const s = new ScreenModel(5000, 5000);
    await s.write("hello");
    const snap = await s.snapshot();
    expect({ cols: snap.cols, rows: snap.rows }).toEqual({ cols: 500, rows: 300 });
    await s.resize(1_000_000, 2);
    expect({ cols: s.cols, rows: s.rows }).toEqual({ cols: 500, rows: 2 });
    s.dispose();
  });

  it("gives the same screen for huge line, scroll and repeat counts as for a screenful, split or not", async () => {
    const hostile = ["top\r\nx", "\x1b[2147483647b", "\r\n\x1b[2;1H\x1b[21474", "83647L", "\x1b[2147483647M\x1b[2147483647S\x1b[2147483647T\x1b[5;1Hend"];
    const sane = ["top\r\nx", "\x1b[400b", "\r\n\x1b[2;1H\x1b[10L", "\x1b[10M\x1b[10S\x1b[10T\x1b[5;1Hend"];
    expect(await screenOf(hostile, 40, 10)).toEqual(await screenOf(sane, 40, 10));
  }, 30_000);
});
