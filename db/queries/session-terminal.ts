import { and, desc, eq, inArray, lt, max, sql } from "drizzle-orm";
import type { Db } from "../client";
import { sessionEvents } from "../schema";
import { unpackEvents } from "@/lib/gateway/recorder/packed-output";

/** Reads behind the live terminal view (lib/gateway/recorder/load-terminal-tail.ts). */
const TERMINAL_KINDS = ["term.start", "term.o", "term.r", "term.exit"];

export async function sessionMaxSeq(db: Db, sessionId: string): Promise<number> {
  const [row] = await db.select({ seq: max(sessionEvents.seq) }).from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId));
  return row?.seq ?? 0;
}

/** One channel's terminal events with seq < beforeSeq, newest first. */
export async function terminalEventsBefore(db: Db, sessionId: string, ch: number, beforeSeq: number, limit = 500) {
  const rows = await db
    .select({ seq: sessionEvents.seq, kind: sessionEvents.kind, payload: sessionEvents.payload, data: sessionEvents.data })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), lt(sessionEvents.seq, beforeSeq), inArray(sessionEvents.kind, TERMINAL_KINDS), sql`${sessionEvents.payload}->>'ch' = ${String(ch)}`))
    .orderBy(desc(sessionEvents.seq))
    .limit(limit);
  return unpackEvents(rows);
}

/** The channel's pty size as of the last start or window change before beforeSeq. */
export async function terminalSizeBefore(db: Db, sessionId: string, ch: number, beforeSeq: number): Promise<{ cols: number; rows: number } | null> {
  const [row] = await db
    .select({ payload: sessionEvents.payload })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), lt(sessionEvents.seq, beforeSeq), inArray(sessionEvents.kind, ["term.start", "term.r"]), sql`${sessionEvents.payload}->>'ch' = ${String(ch)}`))
    .orderBy(desc(sessionEvents.seq))
    .limit(1);
  const { cols, rows } = (row?.payload ?? {}) as { cols?: unknown; rows?: unknown };
  return typeof cols === "number" && typeof rows === "number" ? { cols, rows } : null;
}

/** The events of one kind among the given seqs (e.g. the input right before each command). */
export async function eventsOfKindAt(db: Db, sessionId: string, kind: string, seqs: number[]) {
  if (!seqs.length) return [];
  const rows = await db
    .select({ seq: sessionEvents.seq, kind: sessionEvents.kind, payload: sessionEvents.payload, data: sessionEvents.data })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), eq(sessionEvents.kind, kind), inArray(sessionEvents.seq, seqs)));
  return unpackEvents(rows);
}
