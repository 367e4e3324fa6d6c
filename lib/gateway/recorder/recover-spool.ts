import fs from "node:fs";
import { and, eq, inArray } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sessionEvents, sessions } from "@/db/schema";
import { appendEvents, type SessionEventRow } from "@/lib/services/sessions/append-events";
import { OutputPacker } from "./packed-output";
import { serialize } from "./serialize";
import { orphanedSpools, readSpoolFile, type SpoolHeader } from "./spool";

/** Bytes per insert while recovering (as the writer's spooled statements). */
const BATCH_BYTES = 2 * 1024 * 1024;

/**
 * Stores what a killed process left in its spool (spool.ts): every record whose event is not in
 * the database yet, for sessions this database knows, then removes the file. Run at startup,
 * before anything else writes; safe to repeat (an event already stored is skipped). Returns the
 * sessions that got events, whose replay keyframes (if another process prepared them) are stale.
 */
export async function recoverSpools(db: Db, files = orphanedSpools()): Promise<{ files: number; events: number; sessions: string[] }> {
  let events = 0;
  const touched = new Set<string>();
  for (const file of files) {
    const before = events;
    let batch: { header: SpoolHeader; data: Buffer }[] = [];
    let bytes = 0;
    const flush = async () => {
      events += await storeMissing(db, batch, touched);
      batch = [];
      bytes = 0;
    };
    for (const record of readSpoolFile(file)) {
      batch.push(record);
      bytes += record.data.length;
      if (bytes >= BATCH_BYTES) await flush();
    }
    await flush();
    fs.rmSync(file, { force: true });
    console.log(`[recorder] recovered ${file}: ${events - before} events stored`);
  }
  return { files: files.length, events, sessions: [...touched] };
}

async function storeMissing(db: Db, records: { header: SpoolHeader; data: Buffer }[], touched: Set<string>): Promise<number> {
  const bySession = new Map<string, { header: SpoolHeader; data: Buffer }[]>();
  for (const r of records) bySession.set(r.header.s, [...(bySession.get(r.header.s) ?? []), r]);
  const parts: { sessionId: string; rows: SessionEventRow[] }[] = [];
  for (const [sessionId, recs] of bySession) {
    const [known] = await db.select({ id: sessions.id }).from(sessions).where(eq(sessions.id, sessionId));
    if (!known) continue;
    const seqs = recs.map((r) => r.header.seq);
    const present = await db
      .select({ seq: sessionEvents.seq })
      .from(sessionEvents)
      .where(and(eq(sessionEvents.sessionId, sessionId), inArray(sessionEvents.seq, seqs)));
    const have = new Set(present.map((p) => p.seq));
    const rows: SessionEventRow[] = [];
    for (const { header, data } of recs) {
      if (have.has(header.seq)) continue;
      const packed = new OutputPacker().pack(data);
      rows.push({ seq: header.seq, tMs: header.t, kind: header.k, payloadJson: serialize({ ...header.p, n: data.length, bin: packed.bin }), data: packed.data });
    }
    if (rows.length) parts.push({ sessionId, rows });
  }
  if (parts.length) await appendEvents(db, parts);
  for (const p of parts) touched.add(p.sessionId);
  return parts.reduce((n, p) => n + p.rows.length, 0);
}
