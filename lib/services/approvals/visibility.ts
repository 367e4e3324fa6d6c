import { getApproval } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { authorize, can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { waitForDecision } from "@/lib/gateway/approvals/wait";
import { GatehouseError } from "@/lib/gateway/core/types";
import { toPublicApproval } from "./public";

/**
 * Who sees which approval requests. Approvers and admins see the queue; auditors see it
 * read-only; everyone else (and every delegated agent token) sees only requests they made.
 */
export function seesAllApprovals(caller: Caller): boolean {
  return can(caller, "approvals:decide") || can(caller, "audit:read");
}

export function canSeeApproval(caller: Caller, row: { requesterId: string }): boolean {
  return row.requesterId === caller.userId || seesAllApprovals(caller);
}

/** One approval with its decisions; not-yours and not-found look alike, so ids cannot be probed. */
export async function readApproval(db: Db, caller: Caller | null, id: number | null) {
  const who = authorize(caller, "approvals:read");
  const row = id === null ? null : await getApproval(db, id);
  if (!row || !canSeeApproval(who, row)) throw new GatehouseError("NOT_FOUND", "no such approval request");
  return toPublicApproval(row);
}

/** Long-poll: only the requester (to learn the answer) or a decider may wait on a request. */
export async function awaitApprovalDecision(db: Db, caller: Caller | null, id: number | null, timeoutSeconds: number, signal?: AbortSignal) {
  const who = authorize(caller, "approvals:read");
  const row = id === null ? null : await getApproval(db, id);
  if (!row || !(row.requesterId === who.userId || can(who, "approvals:decide"))) throw new GatehouseError("NOT_FOUND", "no such approval request");
  if (row.status === "pending") await waitForDecision(db, row.id, { timeoutMs: timeoutSeconds * 1000, signal });
  const detail = (await getApproval(db, row.id)) ?? row;
  return { approval: toPublicApproval(detail), status: detail.status, decided: detail.status !== "pending" };
}
