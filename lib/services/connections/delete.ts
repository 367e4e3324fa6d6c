import { and, eq, gt, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { accessGrants, approvalRequests, connections } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/**
 * Deletes a connection. Its approval requests, their decisions and its grants are kept (the
 * foreign keys set their connection to null; each keeps the connection's name): they are the
 * record of who asked for and who allowed what there. What could still be used is ended first,
 * and audited: pending requests are cancelled, approved time windows closed, grants revoked —
 * a null connection matches nothing, but a stale "pending" or "active" must not be shown either.
 */
export async function deleteConnection(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "connections:write");
  return mutate(db, async (tx, emit) => {
    const [conn] = await tx.select({ id: connections.id, name: connections.name }).from(connections).where(eq(connections.id, id)).for("update");
    if (!conn) throw new GatehouseError("NOT_FOUND", "no such connection");
    const now = new Date();
    const cancelled = await tx
      .update(approvalRequests)
      .set({ status: "cancelled", decidedAt: now })
      .where(and(eq(approvalRequests.connectionId, id), eq(approvalRequests.status, "pending")))
      .returning({ id: approvalRequests.id });
    await tx
      .update(approvalRequests)
      .set({ windowUntil: now })
      .where(and(eq(approvalRequests.connectionId, id), gt(approvalRequests.windowUntil, now)));
    const revoked = await tx
      .update(accessGrants)
      .set({ revokedAt: now })
      .where(and(eq(accessGrants.connectionId, id), isNull(accessGrants.revokedAt), gt(accessGrants.expiresAt, now)))
      .returning({ id: accessGrants.id });
    await tx.delete(connections).where(eq(connections.id, id));
    await appendAudit(tx, who, {
      action: "connection.delete",
      subject: `connection:${conn.name}`,
      detail: { id: conn.id, cancelledApprovals: cancelled.map((r) => r.id), revokedGrants: revoked.map((g) => g.id) },
    });
    for (const r of cancelled) emit(Topics.approvalDecided, { id: r.id, status: "cancelled" });
    emit(Topics.connectionChanged, { id: conn.id, deleted: true });
    return { id: conn.id };
  });
}
