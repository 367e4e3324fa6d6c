import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { appendSessionEvents } from "@/lib/services/sessions/append-events";
import { loadTerminalTail } from "./load-terminal-tail";

/** The windowed read against a real (embedded) PostgreSQL: pages backwards only as far as needed. */
describe("loadTerminalTail", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  async function record(sessionId: string, events: { kind: string; payload: Record<string, unknown> }[]) {
    const rows = events.map((e, i) => ({ seq: i + 1, tMs: i, kind: e.kind, payloadJson: JSON.stringify(e.payload) }));
    for (let i = 0; i < rows.length; i += 1000) await appendSessionEvents(handle.db, sessionId, rows.slice(i, i + 1000));
  }

  it("returns the channel's output since the last clear and the session's highest seq", async () => {
    const id = "00000000-0000-4000-8000-00000000a001";
    await record(id, [
      { kind: "connect", payload: {} },
      { kind: "term.start", payload: { ch: 0, mode: "shell", cols: 90, rows: 20, term: "xterm" } },
      { kind: "term.o", payload: { ch: 0, d: "before\r\n" } },
      { kind: "term.o", payload: { ch: 0, d: "\x1b[H\x1b[2Jafter" } },
      { kind: "term.start", payload: { ch: 1, mode: "exec", cols: 80, rows: 24, command: "id" } },
      { kind: "term.o", payload: { ch: 1, d: "uid=0" } },
      { kind: "request", payload: { text: "id" } },
    ]);
    const t = await loadTerminalTail(handle.db, id, 0);
    expect(t.data.toString()).toBe("\x1b[2Jafter");
    expect(t).toMatchObject({ seq: 7, from: "reset", size: { cols: 90, rows: 20 }, term: "xterm" });
    expect((await loadTerminalTail(handle.db, id, 1)).data.toString()).toBe("uid=0");
    expect((await loadTerminalTail(handle.db, id, 2)).data.length).toBe(0);
  });

  it("reads several pages back to the cap and takes the pty size from before its window", async () => {
    const id = "00000000-0000-4000-8000-00000000a002";
    const lines = Array.from({ length: 3000 }, (_, i) => ({ kind: "term.o", payload: { ch: 0, d: `line ${String(i).padStart(4, "0")}\r\n` } }));
    await record(id, [{ kind: "term.start", payload: { ch: 0, mode: "shell", cols: 80, rows: 24 } }, { kind: "term.r", payload: { ch: 0, cols: 132, rows: 50 } }, ...lines]);
    const t = await loadTerminalTail(handle.db, id, 0, 8_000);
    expect(t.from).toBe("cap");
    expect(t.data.length).toBeLessThanOrEqual(8_000);
    expect(t.data.toString().startsWith("line ")).toBe(true);
    expect(t.data.toString().endsWith("line 2999\r\n")).toBe(true);
    expect(t.startSize).toEqual({ cols: 132, rows: 50 });
    expect(t.seq).toBe(3002);
  });
});
