import { describe, expect, it } from "vitest";
import { SqlConsole, type WireMessage } from "./console";

/** A browser's socket as the console sees it: what it was sent, and whether it was closed. */
function socket() {
  const got: WireMessage[] = [];
  let closed: number | null = null;
  return { got, closed: () => closed, send: (json: string) => void got.push(JSON.parse(json)), close: (code: number) => void (closed = code) };
}

describe("SqlConsole: messages kept for a browser that comes back", () => {
  it("numbers every message and sends, on resume, those after the last one the browser has", async () => {
    const c = new SqlConsole();
    const first = socket();
    c.attach(first, null);
    for (let id = 1; id <= 3; id++) await c.run(id, "");
    expect(first.got.map((m) => m.seq)).toEqual([1, 2, 3]);
    c.detach(first);
    for (let id = 4; id <= 5; id++) await c.run(id, "");
    expect(first.got).toHaveLength(3); // detached: nothing more goes to the old socket
    const back = socket();
    c.attach(back, 2);
    expect(back.got.map((m) => [m.type, m.seq, "id" in m ? m.id : null])).toEqual([["error", 3, 3], ["error", 4, 4], ["error", 5, 5], ["resumed", 0, null]]);
    await c.end();
  });

  it("keeps only what the browser has not acknowledged", async () => {
    const c = new SqlConsole();
    const first = socket();
    c.attach(first, null);
    for (let id = 1; id <= 5; id++) await c.run(id, "");
    c.acknowledge(3);
    c.detach(first);
    const back = socket();
    c.attach(back, 3);
    expect(back.got.map((m) => m.seq)).toEqual([4, 5, 0]);
    // What was acknowledged is gone: a browser that (wrongly) asks from before it is told so.
    const confused = socket();
    c.attach(confused, 1);
    expect(confused.got[0]).toMatchObject({ type: "gap", lost: 2 });
    await c.end();
  });

  it("says how many messages it no longer had when more than it keeps came meanwhile", async () => {
    const c = new SqlConsole();
    const first = socket();
    c.attach(first, null);
    c.detach(first);
    const long = "x".repeat(100_001); // each refusal names the limit; about 100 bytes a message
    for (let id = 1; id <= 100_000; id++) await c.run(id, long);
    const back = socket();
    c.attach(back, 0);
    const gap = back.got[0] as Extract<WireMessage, { type: "gap" }>;
    expect(gap.type).toBe("gap");
    expect(gap.lost).toBeGreaterThan(0);
    // What is sent after the gap continues exactly where the lost part ended, up to the newest.
    const kept = back.got.filter((m) => m.type === "error");
    expect(kept[0].seq).toBe(gap.lost + 1);
    expect(kept.at(-1)!.seq).toBe(100_000);
    expect(back.got.at(-1)!.type).toBe("resumed");
    await c.end();
  });

  it("a console ended while the browser was away tells it why on return, then closes; after that nothing resumes", async () => {
    let finished = 0;
    const c = new SqlConsole(() => finished++);
    const first = socket();
    c.attach(first, null);
    c.detach(first);
    c.open(null as never, { email: "x@example.test" } as never, "app-db", "127.0.0.1"); // no gateway in this process: it closes
    expect(c.isFinished).toBe(false);
    const back = socket();
    c.attach(back, 0);
    expect(back.got.map((m) => m.type)).toEqual(["closed"]);
    expect(back.got[0]).toMatchObject({ reason: "the PostgreSQL gateway does not run in this process" });
    expect(back.closed()).toBe(1000);
    expect(c.isFinished).toBe(true);
    expect(finished).toBe(1);
  });
});
