import { and, asc, desc, eq, gt, ilike, inArray, ne, notInArray, or, sql, type SQL } from "drizzle-orm";
import type { Db } from "../client";
import { sessionEvents, sessions } from "../schema";
import type { ClientInfo, ConnectionRef, Principal } from "@/lib/gateway/core/types";
import { unpackEvents } from "@/lib/gateway/recorder/packed-output";
import type { StoredEvent } from "@/lib/gateway/recorder/recording-digest";

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
  /** only sessions opened with this token or one it delegated to */
  descendsFrom?: string;
  status?: string;
  protocol?: string;
  connection?: string;
  /** part of the user's email (case-insensitive) */
  user?: string;
  /** native | web-console | mcp | ... */
  origin?: string;
  q?: string;
  limit?: number;
}

const likePattern = (s: string) => `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

/** Whose sessions a caller may read: a user's, and of those only a token's branch (the list's and the Overview's one rule). */
export function sessionScope(f: Pick<SessionFilter, "userId" | "descendsFrom">): SQL[] {
  const conds: SQL[] = [];
  if (f.userId) conds.push(eq(sessions.userId, f.userId));
  // Opened with this token or one it delegated to (its chain names the token).
  if (f.descendsFrom) conds.push(or(eq(sessions.tokenId, f.descendsFrom), sql`${sessions.chain} @> ${JSON.stringify([{ tokenId: f.descendsFrom }])}::jsonb`)!);
  return conds;
}

export function listSessions(db: Db, f: SessionFilter) {
  const conds = sessionScope(f);
  if (f.status) conds.push(eq(sessions.status, f.status));
  if (f.protocol) conds.push(eq(sessions.protocol, f.protocol));
  if (f.connection) conds.push(eq(sessions.connectionName, f.connection));
  if (f.user) conds.push(ilike(sessions.userEmail, likePattern(f.user)));
  if (f.origin) conds.push(eq(sessions.origin, f.origin));
  if (f.q) {
    const like = likePattern(f.q);
    // The chain's actor names too, so "researcher" finds that sub-agent's sessions.
    conds.push(or(ilike(sessions.userEmail, like), ilike(sessions.connectionName, like), ilike(sessions.clientAddress, like), ilike(sessions.applicationName, like), ilike(sql`jsonb_path_query_array(${sessions.chain}, '$[*].name')::text`, like), ilike(sql`${sessions.id}::text`, like))!);
  }
  return db.select(columns).from(sessions).where(and(...conds)).orderBy(desc(sessions.startedAt)).limit(Math.min(f.limit ?? 200, 1000));
}

export async function getSession(db: Db, id: string) {
  const [row] = await db.select(columns).from(sessions).where(eq(sessions.id, id));
  return row ?? null;
}

/** Events after `afterSeq`, in order, in pages (replay streams them). */
export async function sessionEventsPage(db: Db, sessionId: string, afterSeq = 0, limit = 1000) {
  const rows = await db
    .select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs, kind: sessionEvents.kind, payload: sessionEvents.payload, data: sessionEvents.data })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq)))
    .orderBy(asc(sessionEvents.seq))
    .limit(Math.min(limit, 5000));
  return unpackEvents(rows);
}

/**
 * A session's events of some kinds only (`include`) or all but some (`exclude`), in order:
 * the replay timeline and the terminal channels, without reading the output they sit between.
 */
export async function sessionEventsOfKinds(db: Db, sessionId: string, kinds: { include?: string[]; exclude?: string[] }, afterSeq = 0, limit = 1000) {
  const conds: SQL[] = [eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq)];
  if (kinds.include) conds.push(inArray(sessionEvents.kind, kinds.include));
  if (kinds.exclude) conds.push(notInArray(sessionEvents.kind, kinds.exclude));
  const rows = await db
    .select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs, kind: sessionEvents.kind, payload: sessionEvents.payload, data: sessionEvents.data })
    .from(sessionEvents)
    .where(and(...conds))
    .orderBy(asc(sessionEvents.seq))
    .limit(Math.min(limit, 5000));
  return unpackEvents(rows);
}

/**
 * Seq, time and kind of a session's events of some kinds, without their payloads (which stay in
 * TOAST): what replay needs to plan keyframes and idle compression for a long recording. One row
 * of text for the whole page, because per-row overhead, not the scan, dominates on PGlite
 * (measured on 14k events: 46 ms this way, 160–470 ms as rows).
 */
export async function sessionEventSkeleton(db: Db, sessionId: string, kinds: string[], afterSeq = 0, limit = 50_000): Promise<{ seq: number; tMs: number; kind: string }[]> {
  const page = db
    .select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs, kind: sessionEvents.kind })
    .from(sessionEvents)
    .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, afterSeq), inArray(sessionEvents.kind, kinds)))
    .orderBy(asc(sessionEvents.seq))
    .limit(limit)
    .as("page");
  const [row] = await db.select({ text: sql<string | null>`string_agg(${page.seq}::text || ',' || ${page.tMs}::text || ',' || ${page.kind}, ';' order by ${page.seq})` }).from(page);
  if (!row?.text) return [];
  return row.text.split(";").map((r) => {
    const a = r.indexOf(",");
    const b = r.indexOf(",", a + 1);
    return { seq: Number(r.slice(0, a)), tMs: Number(r.slice(a + 1, b)), kind: r.slice(b + 1) };
  });
}

export async function lastSessionEvent(db: Db, sessionId: string) {
  const [row] = await db.select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs }).from(sessionEvents).where(eq(sessionEvents.sessionId, sessionId)).orderBy(desc(sessionEvents.seq)).limit(1);
  return row ?? null;
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

/** A live session's row, as a gateway opens it: who (with the delegation chain), where, from where. Returns its id. */
export async function insertSession(
  db: Db,
  s: { principal: Principal; connection: ConnectionRef; client: ClientInfo; applicationName: string; parentSessionId: string | null; nodeId: string },
): Promise<string> {
  const [row] = await db
    .insert(sessions)
    .values({
      userId: s.principal.userId,
      userEmail: s.principal.email,
      chain: s.principal.chain,
      tokenId: s.principal.tokenId,
      parentSessionId: s.parentSessionId,
      connectionId: s.connection.id,
      connectionName: s.connection.name,
      protocol: s.client.protocol,
      origin: s.client.origin,
      clientAddress: s.client.address,
      applicationName: s.applicationName,
      nodeId: s.nodeId,
    })
    .returning({ id: sessions.id });
  return row.id;
}

/** Of `ids`, the sessions that are over (not live), with their user and status. */
export async function endedSessions(db: Db, ids: string[]): Promise<{ id: string; userId: string | null; status: string }[]> {
  if (!ids.length) return [];
  return db
    .select({ id: sessions.id, userId: sessions.userId, status: sessions.status })
    .from(sessions)
    .where(and(inArray(sessions.id, ids), ne(sessions.status, "live")));
}

/**
 * A session's events as stored (payload as jsonb's text, `data` still packed), in seq order, page
 * by page: what its seal covers (lib/gateway/recorder/recording-digest.ts).
 */
export async function* walkStoredEvents(db: Db, sessionId: string, pageSize = 2000): AsyncGenerator<StoredEvent> {
  let after = 0;
  for (;;) {
    const page = await db
      .select({ seq: sessionEvents.seq, tMs: sessionEvents.tMs, kind: sessionEvents.kind, payload: sql<string>`${sessionEvents.payload}::text`, data: sessionEvents.data })
      .from(sessionEvents)
      .where(and(eq(sessionEvents.sessionId, sessionId), gt(sessionEvents.seq, after)))
      .orderBy(asc(sessionEvents.seq))
      .limit(pageSize);
    for (const row of page) yield { ...row, tMs: Number(row.tMs) };
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}
