import { describe, expect, it } from "vitest";
import { encodeAsciicast, TerminalTextDecoder, type TerminalEventRow } from "./asciicast";

const session = { userEmail: "ops@example.test", connectionName: "web-1", startedAt: "2025-01-02T03:04:05.678Z" };

function rows(list: [number, string, Record<string, unknown>][]): TerminalEventRow[] {
  return list.map(([tMs, kind, payload], i) => ({ seq: i + 1, tMs, kind, payload }));
}

async function* pagesOf(all: TerminalEventRow[], size = 3) {
  for (let i = 0; i < all.length; i += size) yield all.slice(i, i + size);
}

async function cast(all: TerminalEventRow[], opts: { ch?: number; raw?: boolean } = {}, pageSize = 3): Promise<string> {
  let text = "";
  for await (const chunk of encodeAsciicast(pagesOf(all, pageSize), session, opts)) text += chunk;
  return text;
}

/** What an asciicast v2 reader requires: a header object, then `[time, code, string]` lines in time order. */
function parseAsciicastV2(text: string) {
  expect(text.endsWith("\n")).toBe(true);
  const lines = text.slice(0, -1).split("\n").map((l) => JSON.parse(l));
  const [header, ...events] = lines;
  expect(header.version).toBe(2);
  expect(Number.isInteger(header.width) && header.width > 0).toBe(true);
  expect(Number.isInteger(header.height) && header.height > 0).toBe(true);
  let last = 0;
  for (const e of events) {
    expect(Array.isArray(e) && e.length === 3).toBe(true);
    expect(typeof e[0]).toBe("number");
    expect(e[0]).toBeGreaterThanOrEqual(last);
    expect(["o", "i", "r", "m"]).toContain(e[1]);
    expect(typeof e[2]).toBe("string");
    last = e[0];
  }
  return { header, events: events as [number, string, string][] };
}

const shell = rows([
  [0, "connect", { action: "connect", text: "" }],
  [1000, "term.start", { ch: 0, mode: "shell", cols: 100, rows: 30, term: "xterm-256color" }],
  [1100, "term.o", { ch: 0, d: "$ " }],
  [1500, "term.i", { ch: 0, d: "l" }],
  [1502, "term.o", { ch: 0, d: "l" }],
  [1600, "term.i", { ch: 0, d: "s\r" }],
  [1601, "term.cmd", { ch: 0, text: "ls", reconstructed: true }],
  [1700, "term.o", { ch: 0, d: "file\r\n", err: true }],
  [1800, "term.r", { ch: 0, cols: 120, rows: 40 }],
  // recorded before requests carried their verdict: a separate verdict event
  [1900, "request", { action: "exec", text: "rm -rf /" }],
  [1901, "verdict", { requestSeq: 10, verdict: "deny", reason: "no" }],
  [1950, "request", { action: "exec", text: "reboot" }],
  [1951, "verdict", { requestSeq: 12, verdict: "hold" }],
  [1952, "held", { requestSeq: 12, approvalId: 7 }],
  [1960, "request", { action: "exec", text: "halt", verdict: "deny", policies: ["no-halt"], reason: "no" }],
  [2000, "term.exit", { ch: 0, code: 0 }],
  [2100, "term.o", { ch: 0, d: "after exit" }],
  [2200, "end", { status: "ended" }],
]);

describe("encodeAsciicast", () => {
  it("writes the header from term.start and the session, then o/i/r/m events relative to the channel start", async () => {
    const { header, events } = parseAsciicastV2(await cast(shell));
    expect(header).toEqual({ version: 2, width: 100, height: 30, timestamp: 1735787045, title: "ops@example.test → web-1", env: { TERM: "xterm-256color" } });
    expect(events).toEqual([
      [0.1, "o", "$ "],
      [0.5, "i", "l"],
      [0.502, "o", "l"],
      [0.6, "i", "s\r"],
      [0.601, "m", "ls"],
      [0.7, "o", "file\r\n"],
      [0.8, "r", "120x40"],
      [0.901, "m", "denied: rm -rf /"],
      [0.952, "m", "held: reboot"],
      [0.96, "m", "denied: halt"],
    ]);
  });

  it("is the same whatever the page size (streaming is page by page)", async () => {
    const one = await cast(shell, {}, 1);
    expect(await cast(shell, {}, 100)).toBe(one);
    expect(await cast(shell, {}, 4)).toBe(one);
  });

  it("selects a channel, defaulting to the first term.start, and keeps the others out", async () => {
    const mux = rows([
      [0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm" }],
      [10, "term.o", { ch: 0, d: "zero" }],
      [20, "term.start", { ch: 1, mode: "exec", cols: 80, rows: 24, term: "dumb", command: "uptime" }],
      [30, "term.o", { ch: 1, d: "one" }],
      [40, "term.cmd", { ch: 1, text: "not-a-shell" }],
      [50, "term.o", { ch: 0, d: "zero again" }],
    ]);
    const zero = parseAsciicastV2(await cast(mux));
    expect(zero.events.map((e) => e[2])).toEqual(["zero", "zero again"]);
    const one = parseAsciicastV2(await cast(mux, { ch: 1 }));
    expect(one.header.command).toBe("uptime");
    expect(one.header.env).toEqual({ TERM: "dumb" });
    expect(one.events).toEqual([
      [0.01, "o", "one"],
      [0.02, "m", "not-a-shell"],
    ]);
    expect(await cast(mux, { ch: 5 })).toBe("");
  });

  it("decodes b64 chunks as one byte stream, so a character split across chunks comes out whole", async () => {
    const euro = new TextEncoder().encode("€"); // e2 82 ac
    const b64 = (bytes: number[]) => btoa(String.fromCharCode(...bytes));
    const split = rows([
      [0, "term.start", { ch: 0, cols: 80, rows: 24, term: "xterm" }],
      [1, "term.o", { ch: 0, b64: b64([0x41, euro[0]]) }],
      [2, "term.o", { ch: 0, b64: b64([euro[1], euro[2], 0x42]) }],
      [3, "term.o", { ch: 0, b64: b64([0xff]) }],
      [4, "term.o", { ch: 0, d: "text" }],
      [5, "term.o", { ch: 0, b64: "%%% not base64" }],
    ]);
    const { events } = parseAsciicastV2(await cast(split));
    expect(events.map((e) => e[2]).join("")).toBe("A€B\ufffdtext");
  });

  it("never lets time run backwards, even when the recorder's wall clock did", async () => {
    const skew = rows([
      [5000, "term.start", { ch: 0, cols: 80, rows: 24, term: "xterm" }],
      [6000, "term.o", { ch: 0, d: "a" }],
      [5500, "term.o", { ch: 0, d: "b" }],
      [4000, "term.o", { ch: 0, d: "c" }],
      [7000, "term.o", { ch: 0, d: "d" }],
    ]);
    const { events } = parseAsciicastV2(await cast(skew));
    expect(events.map((e) => e[0])).toEqual([1, 1, 1, 2]);
  });

  it("keeps escape sequences as data (JSON-escaped), never interprets them; raw keeps them all, by default those that act on the player's terminal are left out", async () => {
    const nasty = "\x1b]52;c;cHduZWQ=\x07\x1b]0;owned\x07\x1b]8;;javascript:alert(1)\x07x\x1b]8;;\x07<img src=x onerror=alert(1)>\u2028";
    const events = rows([[0, "term.start", { ch: 0, cols: 80, rows: 24 }], [1, "term.o", { ch: 0, d: nasty }]]);
    const text = await cast(events, { raw: true });
    expect(text).not.toMatch(/[\u2028\u2029]/);
    expect(text.split("\n")).toHaveLength(3);
    expect(parseAsciicastV2(text).events[0][2]).toBe(nasty);
    expect(parseAsciicastV2(await cast(events)).events[0][2]).toBe("x<img src=x onerror=alert(1)>\u2028");
  });

  it("bounds the screen size a row may ask for", async () => {
    const { header } = parseAsciicastV2(await cast(rows([[0, "term.start", { ch: 0, cols: 1e9, rows: -3 }]])));
    expect([header.width, header.height]).toEqual([80, 24]);
  });
});

describe("TerminalTextDecoder", () => {
  it("breaks an unfinished sequence when plain text follows", () => {
    const d = new TerminalTextDecoder();
    expect(d.decode({ b64: btoa(String.fromCharCode(0xe2, 0x82)) })).toBe("");
    expect(d.decode({ d: "x" })).toBe("\ufffdx");
    expect(d.flush()).toBe("");
  });
});
