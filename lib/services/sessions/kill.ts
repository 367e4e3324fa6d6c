import { and, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { getSession } from "@/db/queries/sessions";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Ends a live session wherever it runs: the process serving it receives `session.kill` and
 * closes the client with a protocol-native message ("session ended by an administrator").
 */
export async function killSession(db: Db, caller: Caller | null, id: string, input: { reason?: string } = {}) {
  const who = authorize(caller, "sessions:kill");
  const s = UUID.test(id) ? await getSession(db, id) : null;
  if (!s) throw new GatehouseError("NOT_FOUND", "no such session");
  // The stored id, not the one given: the database finds "ABC…" as "abc…", but the process
  // serving the session looks it up by exact string, and an id in capitals killed nothing.
  const sessionId = s.id;
  if (s.status !== "live") throw new GatehouseError("CONFLICT", `session is already ${s.status}`);
  const reason = (input.reason ?? "").slice(0, 500);
  const told = reason ? `session ended by an administrator: ${reason}` : `session ended by an administrator (${who.email})`;
  return mutate(db, async (tx, emit) => {
    // Stored, not only announced: `session.kill` reaches another process over NOTIFY, which is
    // best effort; the process serving the session also finds it over in the database at its next
    // heartbeat (node-liveness.ts, reconcile) and ends it then.
    const killed = await tx
      .update(sessions)
      .set({ status: "killed", endReason: told, endedAt: new Date() })
      .where(and(eq(sessions.id, sessionId), eq(sessions.status, "live")))
      .returning({ id: sessions.id });
    if (!killed.length) throw new GatehouseError("CONFLICT", "session is already over");
    await appendAudit(tx, who, { action: "session.kill", subject: `session:${sessionId}`, detail: { user: s.userEmail, connection: s.connectionName, reason } });
    emit(Topics.sessionKill, { sessionId, by: who.email, reason: told });
    return { id: sessionId, killed: true };
  });
}
