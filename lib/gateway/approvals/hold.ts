/**
 * holdForApproval: the pipeline's "hold" step. A held request is bound to a hash of exactly
 * what will run (binding.ts), turned into a pending approval request, and parked until an
 * approver decides, the request expires, or the client goes away. Whatever happens, the
 * outcome is one of approved / denied / expired; only "approved" lets the request run, and only
 * after the approval was consumed (single use) in this very call.
 */
import { findApprovedWindows, getApproval } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import type { StoredActor } from "@/db/schema";
import type { GatewayRequest, HoldRequirement } from "@/lib/gateway/core/types";
import { approvalSatisfies } from "@/lib/gateway/policy/verdict";
import { appendAudit } from "@/lib/services/audit/append";
import { consumeApproval } from "@/lib/services/approvals/consume";
import { createApprovalRequest } from "@/lib/services/approvals/create";
import { closePendingApproval } from "@/lib/services/approvals/expire";
import { mutate } from "@/lib/services/tx";
import { bindingHash, normalizeForConnection } from "./binding";
import { waitForDecision, type WaitResult } from "./wait";

export interface HoldInput {
  request: GatewayRequest;
  requirement: HoldRequirement;
  /** masking still applied once approved; shown to the approver */
  maskRuleSets?: string[];
  sessionId?: string;
  /** told the moment the request exists, so the adapter can print "held for approval #N: <url>" */
  onCreated?(approval: { id: number; url: string }): void | Promise<void>;
}

export interface HoldOptions {
  /** how long this hold waits at most; never longer than the request's own TTL */
  timeoutMs?: number;
  signal?: AbortSignal;
  pollMs?: number;
}

export type HoldOutcome =
  | { status: "approved"; approvalId: number; via: "request" | "window" }
  | { status: "denied"; reason: string; approvalId?: number }
  | { status: "expired"; approvalId?: number }
  /** the caller gave the hold up (its signal): the request is closed as cancelled */
  | { status: "cancelled"; approvalId: number };

/** The binding of a gateway request: normalized text (SQL only), params, connection, requester, chain. */
export function bindingOfRequest(req: GatewayRequest): string {
  return bindingHash({
    connectionId: req.connection.id,
    requesterUserId: req.principal.userId,
    chain: req.principal.chain,
    action: req.request.action,
    normalizedText: normalizeForConnection(req.connection.type, req.request.text),
    params: req.request.params,
  });
}

export async function holdForApproval(db: Db, input: HoldInput, opts: HoldOptions = {}): Promise<HoldOutcome> {
  const { request: req, requirement } = input;
  const { principal } = req;
  const hash = bindingOfRequest(req);
  const actor = { userId: principal.userId, email: principal.email };

  const windows = await findApprovedWindows(db, { bindingHash: hash, requesterId: principal.userId, connectionId: req.connection.id });
  const window = windows.find((w) => satisfies(w, requirement));
  if (window) {
    await mutate(db, (tx) =>
      appendAudit(tx, actor, { action: "approval.window_used", subject: `approval:${window.id}`, detail: { sessionId: input.sessionId ?? null, windowUntil: window.windowUntil?.toISOString() } }),
    );
    return { status: "approved", approvalId: window.id, via: "window" };
  }

  const created = await createApprovalRequest(db, {
    kind: "statement",
    bindingHash: hash,
    connection: { id: req.connection.id, name: req.connection.name },
    requester: actor,
    chain: principal.chain.map((a): StoredActor => ({ kind: a.kind, id: a.id, name: a.name, ...(a.tokenId ? { tokenId: a.tokenId } : {}) })),
    sessionId: input.sessionId ?? null,
    request: {
      action: req.request.action,
      kind: req.request.kind,
      text: req.request.shown ?? req.request.text,
      params: req.request.params ?? null,
      tables: req.request.tables,
      functions: req.request.functions,
      protocol: req.client.protocol,
      origin: req.client.origin,
      clientAddress: req.client.address,
      maskRuleSets: input.maskRuleSets ?? [],
    },
    approverGroups: requirement.approverGroups,
    minApprovals: requirement.minApprovals,
  });
  try {
    await input.onCreated?.({ id: created.id, url: created.url });
  } catch (err) {
    console.warn(`[approvals] onCreated for #${created.id} failed: ${(err as Error).message}`);
  }

  const ttlLeft = created.expiresAt.getTime() - Date.now();
  const timeoutMs = Math.min(opts.timeoutMs ?? ttlLeft, ttlLeft);
  let waited = await waitForDecision(db, created.id, { timeoutMs, signal: opts.signal, pollMs: opts.pollMs });
  if (waited.outcome === "timeout" || waited.outcome === "aborted") {
    // Nobody will consume a later approval of this request: close it so the queue shows the truth.
    const status = waited.outcome === "timeout" ? "expired" : "cancelled";
    // An abort with a text reason says why (a PostgreSQL client's CancelRequest); else the client left.
    const why = waited.outcome === "timeout" ? "hold timed out" : typeof opts.signal?.reason === "string" ? opts.signal.reason : "client went away";
    const closed = await closePendingApproval(db, created.id, status, why).catch(() => false);
    if (closed || waited.outcome === "aborted") return status === "expired" ? { status: "expired", approvalId: created.id } : { status: "cancelled", approvalId: created.id };
    // Decided in the very last moment: honour that decision.
    waited = await waitForDecision(db, created.id, { timeoutMs: 0 });
  }
  return settle(db, created.id, hash, input.sessionId, actor, waited);
}

/**
 * A window approved under an older, looser policy does not cover a stricter one: every group it
 * was approved by must still be an approver group now, and it needed at least as many approvals.
 */
export function satisfies(window: { approverGroups: string[]; minApprovals: number }, requirement: HoldRequirement): boolean {
  return approvalSatisfies(window, requirement);
}

async function settle(db: Db, id: number, hash: string, sessionId: string | undefined, actor: { userId: string; email: string }, waited: WaitResult): Promise<HoldOutcome> {
  if (waited.outcome !== "decided") return { status: "expired", approvalId: id };
  switch (waited.status) {
    case "approved": {
      const used = await consumeApproval(db, { id, bindingHash: hash, sessionId, actor });
      return used.ok ? { status: "approved", approvalId: id, via: "request" } : { status: "denied", reason: "the approval was revoked or already used", approvalId: id };
    }
    case "denied":
      return { status: "denied", reason: await denyReason(db, id), approvalId: id };
    case "expired":
      return { status: "expired", approvalId: id };
    default:
      return { status: "denied", reason: `approval #${id} was ${waited.status}`, approvalId: id };
  }
}

/** What the client is told: who denied it and their comment (written for the requester). */
async function denyReason(db: Db, id: number): Promise<string> {
  const detail = await getApproval(db, id).catch(() => null);
  const deny = detail?.decisions.find((d) => d.decision === "deny");
  if (!deny) return `approval #${id} was denied`;
  return `approval #${id} was denied by ${deny.approver}${deny.comment ? `: ${deny.comment}` : ""}`;
}
