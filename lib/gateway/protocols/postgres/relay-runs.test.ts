import { EventEmitter } from "node:events";
import type net from "node:net";
import { describe, expect, it, vi } from "vitest";
import { compileMasker } from "@/lib/gateway/masking";
import type { FieldPlan } from "./masking";
import type { MaskPool } from "./mask-pool";
import { Relay, type RelayOp } from "./relay";
import { ResultUnit } from "./unit";
import { build, FrameReader } from "./wire";

/**
 * The relay's masked runs (relay.ts maskRun) against a pool whose jobs finish when the test says:
 * output order, what waits for runs in flight, and fail-closed on a failed job.
 */
const jobs: { frames: readonly Buffer[]; settle(ok: boolean): void }[] = [];
const fakePool = {
  available: true,
  mask: (_masker: unknown, _plans: unknown, frames: readonly Buffer[]) =>
    new Promise((resolve, reject) => {
      // "masks" by upper-casing: the rows it did are recognisable in the output
      const out = Buffer.concat(frames.map((f) => Buffer.from(f.toString("latin1").toUpperCase(), "latin1")));
      jobs.push({ frames, settle: (ok) => (ok ? resolve({ out, masked: frames.length }) : reject(new Error("worker crashed"))) });
    }),
} as unknown as MaskPool;
vi.mock("./mask-pool", () => ({ maskPool: () => fakePool }));

class FakeSocket extends EventEmitter {
  written: Buffer[] = [];
  write(b: Buffer) {
    this.written.push(b);
    return true;
  }
  pause() {}
  resume() {}
}

function setup() {
  jobs.length = 0;
  const client = new FakeSocket();
  const upstream = new FakeSocket();
  const fatal: Error[] = [];
  const relay = new Relay(client as unknown as net.Socket, upstream as unknown as net.Socket, new FrameReader(), { metadata: null, connection: "c", onUnitDone: () => {} }, (e) => fatal.push(e));
  const masker = compileMasker([{ id: "r", name: "r", enabled: true, detectors: ["email"], columns: [], style: "redact" }], { hashKey: "k" });
  const unit = new ResultUnit(1, masker, { rows: 0, bytes: 0 });
  const plans: FieldPlan[] = [{ plans: [], refs: [], binary: false, label: "v" }];
  relay.enqueue([{ t: "query", unit, classification: { statements: [] }, done: 0, fields: null, plans } as unknown as RelayOp]);
  relay.start();
  /** what the client got: each DataRow's value, other frames by tag */
  const received = () => {
    const reader = new FrameReader();
    reader.push(Buffer.concat(client.written));
    const seen: string[] = [];
    for (let f = reader.next(); f; f = reader.next()) seen.push(f.tag === "D" ? f.body.subarray(6).toString() : f.tag);
    return seen;
  };
  return { upstream, unit, fatal, received };
}

const tick = () => new Promise((r) => setImmediate(r));

/** A 400-row result in two socket reads of 200 rows (two runs, two jobs), then C and Z. */
async function twoRuns(upstream: FakeSocket) {
  upstream.emit("data", rows(0, 200));
  await tick();
  upstream.emit("data", Buffer.concat([rows(200, 200), build.commandComplete("SELECT 400"), build.readyForQuery("I")]));
  await tick();
}
const range = (from: number, n: number, upper = false) => Array.from({ length: n }, (_, i) => (upper ? `ROW${from + i}` : `row${from + i}`));

describe("relay: masked runs shared with the masking worker", () => {
  it("writes runs in order even when a later job finishes first, and what follows waits for them", async () => {
    const { upstream, unit, received } = setup();
    await twoRuns(upstream);
    expect(jobs).toHaveLength(2);
    expect(received()).toEqual([]); // nothing may overtake the first run
    jobs[1].settle(true);
    await tick();
    expect(received()).toEqual([]);
    jobs[0].settle(true);
    await tick();
    // each run: the worker's half (upper-cased by the fake) first, then the relay's own half
    expect(received()).toEqual([...range(0, 100, true), ...range(100, 100), ...range(200, 100, true), ...range(300, 100), "C", "Z"]);
    expect(unit.rows).toBe(400);
    expect(unit.maskedCells).toBe(200);
  });

  it("fails closed: a failed job ends the session and nothing of that run, or after it, is sent", async () => {
    const { upstream, fatal, received } = setup();
    await twoRuns(upstream);
    jobs[0].settle(false);
    jobs[1].settle(true);
    await tick();
    await tick();
    expect(fatal.map((e) => e.message)).toEqual(["worker crashed"]);
    expect(received()).toEqual([]);
  });
});

/** n DataRows "row<from>" ... of one text column */
function rows(from: number, n: number) {
  return Buffer.concat(Array.from({ length: n }, (_, i) => build.dataRow([Buffer.from(`row${from + i}`)])));
}
