import type { Db } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/**
 * Ends a live session wherever it runs: the process serving it receives `session.kill` and
 * closes the client with a protocol-native message ("session ended by an administrator").
 */
export async function killSession(db: Db, caller: Caller | null, id: string, input: { reason?: string } = {}) {
  const who = authorize(caller, "sessions:kill");
  const s = await getSession(db, id);
  if (!s) throw new GatehouseError("NOT_FOUND", "no such session");
  if (s.status !== "live") throw new GatehouseError("CONFLICT", `session is already ${s.status}`);
  const reason = (input.reason ?? "").slice(0, 500);
  return mutate(db, async (tx, emit) => {
    await appendAudit(tx, who, { action: "session.kill", subject: `session:${id}`, detail: { user: s.userEmail, connection: s.connectionName, reason } });
    emit(Topics.sessionKill, { sessionId: id, by: who.email, reason: reason ? `session ended by an administrator: ${reason}` : undefined });
    return { id, killed: true };
  });
}
