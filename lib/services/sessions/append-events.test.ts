import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessionEvents } from "@/db/schema";
import { appendEvents, appendSessionEvents } from "./append-events";

describe("appendSessionEvents", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  it("writes every event of the batch exactly as recorded, in order", async () => {
    const sessionId = "00000000-0000-4000-8000-000000000001";
    const payloads = [
      { text: `SELECT 'it''s', "q", E'\\n' -- ünïcødé 🎉`, params: [null, "\\x00ff"] },
      { verdict: "allow", policies: ["people-read"], nested: { deep: [1, 2.5, true, null] } },
      { rows: 1, sample: { columns: ["a"], rows: [["x\ty\"z"]] } },
    ];
    await appendSessionEvents(
      handle.db,
      sessionId,
      payloads.map((p, i) => ({ seq: i + 1, tMs: 10 * i, kind: `k${i}`, payloadJson: JSON.stringify(p) })),
    );
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.seq));
    expect(rows.map((r) => [r.seq, r.tMs, r.kind, r.payload])).toEqual(payloads.map((p, i) => [i + 1, 10 * i, `k${i}`, p]));
  });

  it("keeps what COPY's text format would change: backslashes, \\N, tabs, line breaks, control characters", async () => {
    const sessionId = "00000000-0000-4000-8000-000000000003";
    const payloads = [{ text: "a\\b\\N\\.\t|\n|\r|\u0001|\\t", d: "\\" }, { text: "\\.", end: "\n\\.\n" }, { "tab\tkey": "x" }];
    await appendSessionEvents(handle.db, sessionId, payloads.map((p, i) => ({ seq: i + 1, tMs: i, kind: "k\tind", payloadJson: JSON.stringify(p) })));
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.seq));
    expect(rows.map((r) => [r.kind, r.payload])).toEqual(payloads.map((p) => ["k\tind", p]));
  });

  it("skips events already stored (a retried batch, output re-stored after a crash), with and without bytes", async () => {
    const sessionId = "00000000-0000-4000-8000-000000000004";
    const row = (seq: number, text: string) => ({ seq, tMs: seq, kind: "request", payloadJson: JSON.stringify({ text }) });
    await appendSessionEvents(handle.db, sessionId, [row(1, "first"), row(2, "second")]);
    await appendSessionEvents(handle.db, sessionId, [row(2, "second again"), row(3, "third")]);
    const bulk = (seq: number) => ({ seq, tMs: seq, kind: "term.o", payloadJson: JSON.stringify({ ch: 0, n: 3, bin: "raw" }), data: Buffer.from([seq, 0, 255]) });
    await appendEvents(handle.db, [{ sessionId, rows: [bulk(4)] }]);
    await appendEvents(handle.db, [{ sessionId, rows: [bulk(4), bulk(5)] }]);
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.seq));
    expect(rows.map((r) => [r.seq, r.payload.text ?? r.data?.toString("hex")])).toEqual([
      [1, "first"],
      [2, "second"],
      [3, "third"],
      [4, "0400ff"],
      [5, "0500ff"],
    ]);
  });

  it("is all-or-nothing: a batch the database refuses writes nothing (the recorder keeps it)", async () => {
    const sessionId = "00000000-0000-4000-8000-000000000002";
    const good = { seq: 1, tMs: 0, kind: "request", payloadJson: "{}" };
    await expect(appendSessionEvents(handle.db, sessionId, [good, { ...good, seq: 2, payloadJson: "{not json" }])).rejects.toThrow();
    expect(await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId))).toEqual([]);
  });
});
