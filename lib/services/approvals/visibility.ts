import { getApproval } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { inBranch, managedBranchOf } from "@/lib/auth/agent-branch";
import { authorize, can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { waitForDecision } from "@/lib/gateway/approvals/wait";
import { GatehouseError } from "@/lib/gateway/core/types";
import { toPublicApproval } from "./public";

/**
 * Who sees which approval requests. Approvers and admins see the queue; auditors see it
 * read-only; everyone else sees only requests they made, and a delegated agent token (or a narrowed
 * script token) only those its own branch made (never its human's or a sibling agent's).
 */
export function seesAllApprovals(caller: Caller): boolean {
  return can(caller, "approvals:decide") || can(caller, "audit:read");
}

/**
 * Whether the caller made this request: its user did; for an agent or a narrowed (script) token,
 * its own branch did — its user's other requests show statements, parameters and reasons from
 * connections it was never given.
 */
export function madeApproval(caller: Caller, row: { requesterId: string; chain: readonly { tokenId?: string }[] }): boolean {
  if (row.requesterId !== caller.userId) return false;
  const branch = managedBranchOf(caller);
  return branch === null || inBranch(branch, row);
}

export function canSeeApproval(caller: Caller, row: { requesterId: string; chain: readonly { tokenId?: string }[] }): boolean {
  return madeApproval(caller, row) || seesAllApprovals(caller);
}

/** The list filter matching canSeeApproval: everything, the user's own, or the token's branch's. */
export function approvalsFilterOf(caller: Caller): { requesterId?: string; branch?: string } {
  if (seesAllApprovals(caller)) return {};
  return { requesterId: caller.userId, branch: managedBranchOf(caller) ?? undefined };
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
  if (!row || !(madeApproval(who, row) || can(who, "approvals:decide"))) throw new GatehouseError("NOT_FOUND", "no such approval request");
  if (row.status === "pending") await waitForDecision(db, row.id, { timeoutMs: timeoutSeconds * 1000, signal });
  const detail = (await getApproval(db, row.id)) ?? row;
  return { approval: toPublicApproval(detail), status: detail.status, decided: detail.status !== "pending" };
}
