import { and, asc, desc, eq, gt, ilike, or, type SQL } from "drizzle-orm";
import type { Db } from "../client";
import { sessionEvents, sessions } from "../schema";

const columns = {
  id: sessions.id,
  userId: sessions.userId,
  userEmail: sessions.userEmail,
  chain: sessions.chain,
  tokenId: sessions.tokenId,
  parentSessionId: sessions.parentSessionId,
  connectionName: sessions.connectionName,
  protocol: sessions.protocol,
  origin: sessions.origin,
  clientAddress: sessions.clientAddress,
  applicationName: sessions.applicationName,
  status: sessions.status,
  endReason: sessions.endReason,
  counters: sessions.counters,
  startedAt: sessions.startedAt,
  endedAt: sessions.endedAt,
};

export interface SessionFilter {
  userId?: string;
  status?: string;
  protocol?: string;
  connection?: string;
  q?: string;
  limit?: number;
}

export function listSessions(db: Db, f: SessionFilter) {
  const conds: SQL[] = [];
  if (f.userId) conds.push(eq(sessions.userId, f.userId));
  if (f.status) conds.push(eq(sessions.status, f.status));
  if (f.protocol) conds.push(eq(sessions.protocol, f.protocol));
  if (f.connection) conds.push(eq(sessions.connectionName, f.connection));
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    conds.push(or(ilike(sessions.userEmail, like), ilike(sessions.connectionName, like), ilike(sessions.clientAddress, like), ilike(sessions.applicationName, like))!);
  }
  return db.select(columns).from(sessions).where(and(...conds)).orderBy(desc(sessions.startedAt)).limit(Math.min(f.limit ?? 200, 1000));
}

export async function getSession(db: Db, id: string) {
  const [row] = await db.select(columns).from(sessions).where(eq(sessions.id, id));
  return row ?? null;
}

/** Events after `afterSeq`, in order, in pages (replay streams them). */
export function sessionEventsPage(db: Db, sessionId: string, afterSeq = 0, limit = 1000) {
  return db
    .select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs, kind: sessionEvents.kind, payload: sessionEvents.payload })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq)))
    .orderBy(asc(sessionEvents.seq))
    .limit(Math.min(limit, 5000));
}

/**
 * Lineage: a child agent's session hangs under the newest live session of the token it was
 * exchanged from, so the console can show human → agent → sub-agent as a tree.
 */
export async function liveParentSession(db: Db, parentTokenId: string | null | undefined): Promise<string | null> {
  if (!parentTokenId) return null;
  const [row] = await db
    .select({ id: sessions.id })
    .from(sessions)
    .where(and(eq(sessions.tokenId, parentTokenId), eq(sessions.status, "live")))
    .orderBy(desc(sessions.startedAt))
    .limit(1);
  return row?.id ?? null;
}
