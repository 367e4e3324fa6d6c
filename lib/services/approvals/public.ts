import { getApproval, type ApprovalDetail, type ApprovalRow } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { approvalUrl, webhookSettings } from "@/lib/gateway/approvals/config";
import { notifyApproval, type ApprovalEvent, type ApprovalSummary } from "@/lib/gateway/approvals/notify";

/** The REST shape of an approval request (list rows and details alike). */
export function toPublicApproval(row: ApprovalRow | ApprovalDetail) {
  const detail = "decisions" in row ? row : null;
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    connection: row.connection,
    /** the connection was deleted after the request: kept as evidence, usable for nothing */
    connectionDeleted: !row.connectionExists,
    requester: row.requester,
    // token ids are internal; kind/id/name is what an approver needs to recognise the chain
    chain: row.chain.map((a) => ({ kind: a.kind, id: a.id, name: a.name })),
    sessionId: row.sessionId,
    request: row.request,
    reason: row.reason,
    approverGroups: row.approverGroups,
    minApprovals: row.minApprovals,
    approvals: row.approvals,
    durationSeconds: row.durationSeconds,
    windowUntil: row.windowUntil,
    expiresAt: row.expiresAt,
    decidedAt: row.decidedAt,
    createdAt: row.createdAt,
    url: approvalUrl(row.id),
    ...(detail
      ? {
          decisions: detail.decisions.map((d) => ({ approver: d.approver, decision: d.decision, comment: d.comment, windowSeconds: d.windowSeconds, at: d.createdAt })),
          grant: detail.grant,
        }
      : {}),
  };
}

export type PublicApproval = ReturnType<typeof toPublicApproval>;

export function toSummary(d: ApprovalDetail, decision?: ApprovalSummary["decision"]): ApprovalSummary {
  const req = d.request as { action?: string; text?: string };
  return {
    id: d.id,
    kind: d.kind,
    status: d.status,
    connection: d.connection,
    requester: d.requester,
    chain: d.chain.map((a) => a.name),
    action: String(req.action ?? d.kind),
    text: String(req.text ?? ""),
    reason: d.reason,
    approverGroups: d.approverGroups,
    minApprovals: d.minApprovals,
    approvals: d.approvals,
    expiresAt: d.expiresAt.toISOString(),
    ...(decision ? { decision } : {}),
  };
}

/**
 * Sends the webhook for an approval after its transaction committed. Never awaited by the
 * caller's critical path and never throws; without a configured webhook it does not even read.
 */
export function announceApproval(db: Db, event: ApprovalEvent, id: number, decision?: ApprovalSummary["decision"]): Promise<void> {
  const settings = webhookSettings();
  if (!settings) return Promise.resolve();
  return getApproval(db, id)
    .then((d) => (d ? notifyApproval(event, toSummary(d, decision), approvalUrl(id), settings) : undefined))
    .catch((err: Error) => console.warn(`[approvals] could not announce #${id}: ${err.message}`));
}
