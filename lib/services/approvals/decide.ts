import { and, eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { accessGrants, approvalDecisions, approvalRequests, type StoredActor } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { scrubValue } from "@/lib/gateway/recorder/credential-scrub";
import { chainCredentialEnded, groupNamesOf } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { grantActorOf } from "@/lib/identity/grant-lineage";
import { mutate } from "../tx";
import { decisionInput } from "./input";
import { announceApproval } from "./public";

export interface DecisionResult {
  approval: { id: number; status: string; approvals: number; minApprovals: number; windowUntil: Date | null };
  grant: { id: string; connectionId: string; expiresAt: Date } | null;
}

/**
 * One approver's approve/deny. The rules, in the order they are checked:
 *  1. the caller holds approvals:decide (approver or admin role, never a delegated agent token);
 *  2. neither the requester nor anyone in the request's delegation chain may decide it — a human
 *     must not approve what their own agent asked for (matched by user id and by email);
 *  3. the caller is a member of one of the request's approverGroups. Admins are NOT implicitly
 *     approvers: a policy naming "dba" means a DBA looks at it, and an admin who should approve
 *     is put in that group, visibly;
 *  4. the request is still pending, not past its deadline, and no token of its chain was revoked
 *     or ran out since it was made (else CONFLICT);
 *  5. one decision per approver (also a unique index, for races between processes).
 * Any deny ends the request; it is approved once minApprovals distinct approvers said yes.
 */
export async function decideApproval(db: Db, caller: Caller | null, id: number, input: unknown): Promise<DecisionResult> {
  const who = authorize(caller, "approvals:decide");
  const data = decisionInput.parse(input);
  if (data.decision === "deny" && data.windowSeconds !== undefined) throw new GatehouseError("INVALID", "a time window only applies to an approval");
  // Shown to the requester (the refusal), in the API, the audit log and the webhook: never a credential.
  const comment = scrubValue(data.reason ?? data.comment ?? "");
  const now = new Date();

  const outcome = await mutate(db, async (tx, emit) => {
    // FOR UPDATE: two approvers of a 2-of-N request deciding at once must see each other's vote.
    const [req] = await tx.select().from(approvalRequests).where(eq(approvalRequests.id, id)).for("update");
    if (!req) throw new GatehouseError("NOT_FOUND", "no such approval request");
    if (req.requesterId === who.userId) throw new GatehouseError("FORBIDDEN", "you cannot decide your own request");
    if (inChain(req.chain, who)) throw new GatehouseError("FORBIDDEN", "you are part of this request's delegation chain and cannot decide it");
    const groups = await groupNamesOf(tx, who.userId);
    if (!req.approverGroups.some((g) => groups.includes(g))) {
      throw new GatehouseError("FORBIDDEN", `only members of ${req.approverGroups.join(", ")} may decide this request`);
    }
    if (req.status !== "pending") throw new GatehouseError("CONFLICT", `approval #${id} is already ${req.status}`);
    // deleteConnection cancels what was pending on it; this is for a decision racing that.
    const connectionId = req.connectionId;
    if (!connectionId) throw new GatehouseError("CONFLICT", `approval #${id} was for connection ${req.connectionName}, which has since been deleted`);
    if (await chainCredentialEnded(tx, req.chain)) throw new GatehouseError("CONFLICT", `approval #${id} was asked for with a token that has since been revoked or expired`);
    if (req.expiresAt.getTime() <= now.getTime()) {
      // Record the expiry we just noticed, then refuse outside the transaction (a throw would roll it back).
      await tx.update(approvalRequests).set({ status: "expired", decidedAt: now }).where(eq(approvalRequests.id, id));
      await appendAudit(tx, null, { action: "approval.expire", subject: `approval:${id}`, detail: { why: "ttl", noticedBy: who.email } });
      emit(Topics.approvalDecided, { id, status: "expired" });
      return { expired: true as const };
    }
    if (data.windowSeconds !== undefined && req.kind !== "statement") {
      throw new GatehouseError("INVALID", "access requests carry their own duration; a time window applies to statements only");
    }
    const [inserted] = await tx
      .insert(approvalDecisions)
      .values({ requestId: id, approverId: who.userId, decision: data.decision, comment, windowSeconds: data.windowSeconds ?? null })
      .onConflictDoNothing()
      .returning({ id: approvalDecisions.id });
    if (!inserted) throw new GatehouseError("CONFLICT", "you already decided this request");

    const votes = await tx.select({ decision: approvalDecisions.decision, windowSeconds: approvalDecisions.windowSeconds }).from(approvalDecisions).where(eq(approvalDecisions.requestId, id));
    const approves = votes.filter((v) => v.decision === "approve");
    let status = "pending";
    let windowUntil: Date | null = null;
    let grant: DecisionResult["grant"] = null;
    if (data.decision === "deny") status = "denied";
    else if (approves.length >= req.minApprovals) {
      status = "approved";
      // The window every approver agreed to: the smallest one, and none if anyone gave none.
      const windows = approves.map((v) => v.windowSeconds);
      if (req.kind === "statement" && windows.every((w) => w !== null)) windowUntil = new Date(now.getTime() + Math.min(...(windows as number[])) * 1000);
    }
    if (status !== "pending") {
      await tx.update(approvalRequests).set({ status, decidedAt: now, windowUntil }).where(and(eq(approvalRequests.id, id), eq(approvalRequests.status, "pending")));
    }
    await appendAudit(tx, who, {
      action: data.decision === "approve" ? "approval.approve" : "approval.deny",
      subject: `approval:${id}`,
      detail: { comment, windowSeconds: data.windowSeconds ?? null, approvals: approves.length, minApprovals: req.minApprovals, status, windowUntil: windowUntil?.toISOString() ?? null },
    });
    if (status === "approved" && req.kind === "access") {
      const expiresAt = new Date(now.getTime() + (req.durationSeconds ?? 3600) * 1000);
      const actorTokenId = grantActorOf(req.chain);
      const [row] = await tx
        .insert(accessGrants)
        .values({ userId: req.requesterId, connectionId, connectionName: req.connectionName, actorTokenId, requestId: id, expiresAt })
        .returning({ id: accessGrants.id, expiresAt: accessGrants.expiresAt });
      grant = { ...row, connectionId };
      await appendAudit(tx, who, { action: "grant.create", subject: `grant:${row.id}`, detail: { approval: id, userId: req.requesterId, connectionId, actorTokenId, expiresAt: expiresAt.toISOString() } });
    }
    emit(Topics.approvalDecided, { id, status });
    return { expired: false as const, result: { approval: { id, status, approvals: approves.length, minApprovals: req.minApprovals, windowUntil }, grant } };
  });

  if (outcome.expired) throw new GatehouseError("CONFLICT", `approval #${id} has expired`);
  void announceApproval(db, "approval.decided", id, { by: who.email, decision: data.decision, comment });
  return outcome.result;
}

/** Is the caller anywhere in the chain that asked? By id and by email, so a renamed link still matches. */
function inChain(chain: StoredActor[], who: Pick<Caller, "userId" | "email">): boolean {
  const email = who.email.toLowerCase();
  return chain.some((a) => a.id === who.userId || a.id.toLowerCase() === email || a.name.toLowerCase() === email);
}
