import { and, count, eq, gt, sql, type SQL } from "drizzle-orm";
import type { Db } from "@/db/client";
import { chainNamesToken } from "@/db/queries/approvals";
import { approvalRequests, type StoredActor } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { approvalTtlSeconds, approvalUrl, MAX_PENDING_PER_REQUESTER } from "@/lib/gateway/approvals/config";
import { GatehouseError } from "@/lib/gateway/core/types";
import { scrubValue } from "@/lib/gateway/recorder/credential-scrub";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { announceApproval } from "./public";

export interface NewApprovalRequest {
  kind: "statement" | "access";
  bindingHash: string;
  connection: { id: string; name: string };
  requester: Pick<Caller, "userId" | "email">;
  chain: StoredActor[];
  sessionId?: string | null;
  /** what the approver is shown: action, text, params, classification, client */
  request: Record<string, unknown>;
  reason?: string;
  approverGroups: string[];
  minApprovals: number;
  durationSeconds?: number | null;
  ttlSeconds?: number;
}

/**
 * Inserts a pending approval request (audited) and announces it: approval.created on the bus
 * after commit, and the webhook. Gatehouse credentials (JWTs, console secrets) in what it shows
 * are stored as same-length placeholders (credential-scrub.ts), as in recordings. Not a caller-facing service: the gateway (holds) and
 * requestAccess have already decided that the requester may ask.
 */
export async function createApprovalRequest(db: Db, input: NewApprovalRequest): Promise<{ id: number; url: string; expiresAt: Date }> {
  const groups = [...new Set(input.approverGroups.filter(Boolean))].sort();
  // A requirement nobody can satisfy would just hang until expiry; refuse it loudly instead.
  if (!groups.length) throw new GatehouseError("INVALID", "the approval requirement names no approver group");
  if (!Number.isInteger(input.minApprovals) || input.minApprovals < 1 || input.minApprovals > 10) {
    throw new GatehouseError("INVALID", "minApprovals must be between 1 and 10");
  }
  const now = new Date();
  const expiresAt = new Date(now.getTime() + (input.ttlSeconds ?? approvalTtlSeconds()) * 1000);
  const created = await mutate(db, async (tx, emit) => {
    const [{ pending }] = await tx
      .select({ pending: count() })
      .from(approvalRequests)
      .where(and(eq(approvalRequests.requesterId, input.requester.userId), eq(approvalRequests.status, "pending"), gt(approvalRequests.expiresAt, now), budgetOf(input.chain)));
    if (pending >= MAX_PENDING_PER_REQUESTER) {
      const who = input.chain.length > 1 ? "this agent and the agents it spawned already have" : "you already have";
      throw new GatehouseError("RATE_LIMITED", `${who} ${pending} approval requests waiting; wait for a decision first`);
    }
    const [row] = await tx
      .insert(approvalRequests)
      .values({
        kind: input.kind,
        bindingHash: input.bindingHash,
        connectionId: input.connection.id,
        connectionName: input.connection.name,
        requesterId: input.requester.userId,
        chain: input.chain,
        sessionId: input.sessionId ?? null,
        // Shown to approvers, auditors, the webhook and the CLI: never a credential written into
        // the statement or the reason. The binding hash stays over the real text and parameters.
        request: scrubValue(input.request),
        reason: scrubValue(input.reason ?? ""),
        approverGroups: groups,
        minApprovals: input.minApprovals,
        durationSeconds: input.durationSeconds ?? null,
        expiresAt,
      })
      .returning({ id: approvalRequests.id });
    await appendAudit(tx, input.requester, {
      action: "approval.request",
      subject: `approval:${row.id}`,
      detail: {
        kind: input.kind,
        connection: input.connection.name,
        chain: input.chain.map((a) => a.name),
        action: input.request.action,
        bindingHash: input.bindingHash,
        approverGroups: groups,
        minApprovals: input.minApprovals,
        sessionId: input.sessionId ?? null,
      },
    });
    // Bus payloads reach every console viewer with approvals:read: ids and status only.
    emit(Topics.approvalCreated, { id: row.id, status: "pending" });
    return row;
  });
  void announceApproval(db, "approval.created", created.id);
  return { id: created.id, url: approvalUrl(created.id), expiresAt };
}

/**
 * Whose budget of pending requests a new one counts against: the user's own requests, or those
 * of the top-level agent's branch (it and every agent below it), so an agent flooding holds cannot
 * keep its human, or a sibling agent, from asking. A delegated chain without its token counts
 * against everything the user has pending.
 */
function budgetOf(chain: readonly StoredActor[]): SQL | undefined {
  if (chain.length <= 1) return sql`jsonb_array_length(${approvalRequests.chain}) <= 1`;
  const top = chain[1].tokenId;
  return top ? chainNamesToken(approvalRequests.chain, top) : undefined;
}
