import { z } from "zod";
import { getApproval } from "@/db/queries/approvals";
import { getConnection } from "@/db/queries/connections";
import type { Db } from "@/db/client";
import type { StoredActor } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import { approvalWaits } from "@/lib/auth/caller-caps";
import type { Caller } from "@/lib/auth/caller";
import { bindingHash } from "@/lib/gateway/approvals/binding";
import { accessApproverGroups } from "@/lib/gateway/approvals/config";
import { waitForDecision } from "@/lib/gateway/approvals/wait";
import { GatehouseError } from "@/lib/gateway/core/types";
import { createApprovalRequest } from "../approvals/create";
import { reason } from "../approvals/input";
import { grantActorOf } from "@/lib/identity/grant-lineage";
import { toPublicApproval } from "../approvals/public";

/** 24 h: just-in-time access is meant to be short; standing access belongs in policy. */
export const MAX_ACCESS_SECONDS = 24 * 3600;
/** The longest one HTTP call may long-poll for the decision. */
export const MAX_WAIT_SECONDS = 60;

export const accessRequestInput = z.object({
  connection: z.string().min(1).max(128),
  durationSeconds: z.number().int().min(60).max(MAX_ACCESS_SECONDS),
  reason: reason.trim().min(1, "say why you need access"),
  wait: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional(),
});

/**
 * Asks for temporary access to a connection. Creates an approval request of kind "access"
 * (approvers: GATEHOUSE_ACCESS_APPROVERS, default "approvers"; one approval); approving it
 * creates an access grant (see decideApproval) that the policy sees as `grants.active`: for the
 * asking agent and the agents it spawns, or for all of the user's sessions when they asked themself.
 * With `wait`, long-polls the decision so an agent or the CLI gets the answer in one call.
 */
export async function requestAccess(db: Db, caller: Caller | null, input: unknown, signal?: AbortSignal) {
  const who = authorize(caller, "approvals:request");
  const data = accessRequestInput.parse(input);
  // Waiting is a long-poll like /approvals/:id/wait: it takes one of the caller's slots, and with
  // none free nothing is asked for.
  return data.wait ? approvalWaits.within(who, () => ask(db, who, data, signal)) : ask(db, who, data, signal);
}

async function ask(db: Db, who: Caller, data: z.infer<typeof accessRequestInput>, signal?: AbortSignal) {
  const connection = await getConnection(db, { name: data.connection });
  if (!connection) throw new GatehouseError("NOT_FOUND", `no connection named "${data.connection}"`);
  const scope = who.principal?.scopeConnections;
  // A token scoped away from this connection must not obtain standing access to it either.
  if (scope && !scope.includes("*") && !scope.includes(connection.name)) {
    throw new GatehouseError("FORBIDDEN", `this credential's scope does not include connection ${connection.name}`);
  }
  const chain: StoredActor[] = who.principal?.chain.map((a) => ({ ...a })) ?? [{ kind: "user", id: who.userId, name: who.email }];
  grantActorOf(chain); // refuses a request whose grant could not be bound to the agent asking
  const text = `access to ${connection.name} for ${data.durationSeconds}s`;
  const created = await createApprovalRequest(db, {
    kind: "access",
    bindingHash: bindingHash({ connectionId: connection.id, requesterUserId: who.userId, chain, action: "access", normalizedText: text, params: [String(data.durationSeconds)] }),
    connection: { id: connection.id, name: connection.name },
    requester: who,
    chain,
    request: { action: "access", text, durationSeconds: data.durationSeconds },
    reason: data.reason,
    approverGroups: accessApproverGroups(),
    minApprovals: 1,
    durationSeconds: data.durationSeconds,
  });
  if (data.wait) await waitForDecision(db, created.id, { timeoutMs: data.wait * 1000, signal });
  const detail = await getApproval(db, created.id);
  if (!detail) throw new GatehouseError("NOT_FOUND", "the access request disappeared");
  return { approval: toPublicApproval(detail), status: detail.status, grant: detail.grant ?? undefined };
}
