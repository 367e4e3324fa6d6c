import { and, eq, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { accessGrants, approvalRequests } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { groupNamesOf } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { reason } from "./input";

const revokeInput = z.object({ reason: reason.optional() });

/**
 * Withdraws an approval that can still be used: a pending request, or an approved one not yet
 * consumed — notably a time window, which would otherwise keep approving the same statement
 * until windowUntil. Revoking only ever takes rights away, so admins may do it without being in
 * the approver group; other approvers must be in it.
 */
export async function revokeApproval(db: Db, caller: Caller | null, id: number, input: unknown) {
  const who = authorize(caller, "approvals:decide");
  const data = revokeInput.parse(input ?? {});
  return mutate(db, async (tx, emit) => {
    const [req] = await tx.select({ kind: approvalRequests.kind, status: approvalRequests.status, approverGroups: approvalRequests.approverGroups }).from(approvalRequests).where(eq(approvalRequests.id, id)).for("update");
    if (!req) throw new GatehouseError("NOT_FOUND", "no such approval request");
    if (who.role !== "admin") {
      const groups = await groupNamesOf(tx, who.userId);
      if (!req.approverGroups.some((g) => groups.includes(g))) throw new GatehouseError("FORBIDDEN", `only admins and members of ${req.approverGroups.join(", ")} may revoke this approval`);
    }
    const [row] = await tx
      .update(approvalRequests)
      .set({ status: "cancelled", windowUntil: null, decidedAt: new Date() })
      .where(and(eq(approvalRequests.id, id), inArray(approvalRequests.status, ["pending", "approved"])))
      .returning({ id: approvalRequests.id });
    if (!row) throw new GatehouseError("CONFLICT", `approval #${id} is ${req.status} and cannot be revoked`);
    // An approved access request already produced a grant: withdrawing the approval ends it too.
    const grants = await tx
      .update(accessGrants)
      .set({ revokedAt: new Date() })
      .where(and(eq(accessGrants.requestId, id), isNull(accessGrants.revokedAt)))
      .returning({ id: accessGrants.id, userId: accessGrants.userId, connectionId: accessGrants.connectionId });
    await appendAudit(tx, who, { action: "approval.revoke", subject: `approval:${id}`, detail: { kind: req.kind, was: req.status, reason: data.reason ?? "", revokedGrants: grants.map((g) => g.id) } });
    emit(Topics.approvalDecided, { id, status: "cancelled" });
    // As revokeGrant does: what stands on the grant (open sessions, shells, forwards) is decided again.
    for (const g of grants) emit(Topics.grantRevoked, g);
    return { id, status: "cancelled" as const };
  });
}
