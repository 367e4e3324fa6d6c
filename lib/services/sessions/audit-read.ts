import type { Db } from "@/db/client";
import type { Caller } from "@/lib/auth/caller";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/** How a recording was read: a download, a replay opened, a live session watched, its seal checked. */
export type RecordingRead = "session.export" | "session.replay" | "session.watch" | "session.verify";

type Reader = Pick<Caller, "userId" | "email">;
type ReadSession = { id: string; connectionName: string; userEmail: string };

/** How the reader came: the console (its cookie) or a token, and the client it named itself. */
export function readVia(req: Request, caller: Pick<Caller, "via">) {
  return { via: caller.via === "session" ? "console" : "api", client: (req.headers.get("user-agent") ?? "").slice(0, 200) };
}

/**
 * Reads audited lately, per process: `${user}:${session}:${action}` → until (ms). On globalThis:
 * the sockets (server bundle) and the route handlers (Next's copy of lib) must share it.
 */
const g = globalThis as { __gatehouseRecentReads?: Map<string, number> };
const recent = (g.__gatehouseRecentReads ??= new Map<string, number>());
const RECENT_MS = 10 * 60_000;
const RECENT_MAX = 10_000;

/**
 * Audits that someone read a session's recording (as Teleport audits playback), before anything
 * is sent: a read that cannot be audited is refused, not served unrecorded. One row each time:
 * for an export, and for a live view's socket.
 */
export async function auditRecordingRead(db: Db, caller: Reader, session: ReadSession, action: RecordingRead, detail: Record<string, unknown>) {
  await mutate(db, (tx) => appendAudit(tx, caller, { action, subject: `session:${session.id}`, detail: { connection: session.connectionName, owner: session.userEmail, ...detail } }));
  const key = `${caller.userId}:${session.id}:${action}`;
  recent.delete(key);
  if (recent.size >= RECENT_MAX) recent.delete(recent.keys().next().value!);
  recent.set(key, Date.now() + RECENT_MS);
}

/**
 * For a read made of many requests — a replay's index, timeline and windows, a query session's
 * events pages, a live view's tail: one row when the reader opens it, none for the requests that
 * follow within 10 minutes of the last row for the same reader, session and kind of read. Every
 * way in is covered, so a client that skips the index still goes on record.
 */
export async function auditRecordingPiece(db: Db, caller: Reader, session: ReadSession, action: RecordingRead, detail: Record<string, unknown>) {
  if ((recent.get(`${caller.userId}:${session.id}:${action}`) ?? 0) > Date.now()) return;
  await auditRecordingRead(db, caller, session, action, detail);
}
