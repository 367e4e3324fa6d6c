import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessionEvents } from "@/db/schema";
import { appendSessionEvents } from "./append-events";

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
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(asc(sessionEvents.id));
    expect(rows.map((r) => [r.seq, r.tMs, r.kind, r.payload])).toEqual(payloads.map((p, i) => [i + 1, 10 * i, `k${i}`, p]));
  });

  it("is all-or-nothing: a batch the database refuses writes nothing (the recorder keeps it)", async () => {
    const sessionId = "00000000-0000-4000-8000-000000000002";
    const good = { seq: 1, tMs: 0, kind: "request", payloadJson: "{}" };
    await expect(appendSessionEvents(handle.db, sessionId, [good, { ...good, seq: 2, payloadJson: "{not json" }])).rejects.toThrow();
    expect(await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId))).toEqual([]);
  });
});
