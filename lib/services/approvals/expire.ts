import { and, eq, lte } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvalRequests } from "@/db/schema";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/**
 * Marks every pending request whose deadline passed as expired (audited, announced), so lists
 * never show a stale "pending" and a late approver gets CONFLICT. Called by list endpoints and
 * by waiting holds. Cheap when there is nothing to do: one indexed read, no transaction.
 */
export async function expireOverdue(db: Db, now = new Date()): Promise<number[]> {
  const overdue = await db
    .select({ id: approvalRequests.id })
    .from(approvalRequests)
    .where(and(eq(approvalRequests.status, "pending"), lte(approvalRequests.expiresAt, now)))
    .limit(1);
  if (!overdue.length) return [];
  return mutate(db, async (tx, emit) => {
    const rows = await tx
      .update(approvalRequests)
      .set({ status: "expired", decidedAt: now })
      .where(and(eq(approvalRequests.status, "pending"), lte(approvalRequests.expiresAt, now)))
      .returning({ id: approvalRequests.id });
    for (const { id } of rows) {
      await appendAudit(tx, null, { action: "approval.expire", subject: `approval:${id}`, detail: { why: "ttl" } });
      emit(Topics.approvalDecided, { id, status: "expired" });
    }
    return rows.map((r) => r.id);
  });
}

/**
 * Ends one pending request that nobody will wait for any more: `expired` when the hold timed
 * out, `cancelled` when the client went away. Returns false if it was no longer pending (an
 * approver decided in the meantime); the caller then re-reads the decision.
 */
export async function closePendingApproval(db: Db, id: number, status: "expired" | "cancelled", why: string): Promise<boolean> {
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .update(approvalRequests)
      .set({ status, decidedAt: new Date() })
      .where(and(eq(approvalRequests.id, id), eq(approvalRequests.status, "pending")))
      .returning({ id: approvalRequests.id });
    if (!row) return false;
    await appendAudit(tx, null, { action: status === "expired" ? "approval.expire" : "approval.cancel", subject: `approval:${id}`, detail: { why } });
    emit(Topics.approvalDecided, { id, status });
    return true;
  });
}
