import { and, eq, inArray, isNull } from "drizzle-orm";
import type { Db } from "@/db/client";
import { tokens } from "@/db/schema";
import { inBranch, managedBranchOf } from "@/lib/auth/agent-branch";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { descendantTokenIds, hashToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { endRequestsOfCredentials } from "../approvals/end-for-credentials";
import { mutate } from "../tx";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Revokes a token and, through the delegation tree, every token exchanged from it. Gateways
 * subscribed to `token.revoked` end the live sessions of all of them; approval time windows
 * given to requests made with any of them end too, and their waiting requests are cancelled.
 */
export async function revokeToken(db: Db, caller: Caller | null, ref: { id?: string; token?: string }) {
  const who = authorize(caller, "tokens:own");
  const where = ref.id ? eq(tokens.id, ref.id) : ref.token ? eq(tokens.tokenHash, hashToken(ref.token)) : null;
  if (!where) throw new GatehouseError("INVALID", "give a token id or the token itself");
  // Not an id at all: the same answer as someone else's (it was a 500 from the uuid column).
  if (ref.id && !UUID.test(ref.id)) throw new GatehouseError("NOT_FOUND", "no such token");
  const [target] = await db.select({ id: tokens.id, userId: tokens.userId, chain: tokens.chain }).from(tokens).where(where);
  // Not-found and not-yours look the same, so token ids cannot be probed.
  if (!target) throw new GatehouseError("NOT_FOUND", "no such token");
  authorizeTarget(who, target);
  return mutate(db, async (tx, emit) => {
    const ids = await descendantTokenIds(tx, [target.id]);
    const revoked = await tx
      .update(tokens)
      .set({ revokedAt: new Date() })
      .where(and(inArray(tokens.id, ids), isNull(tokens.revokedAt)))
      .returning({ id: tokens.id });
    // Time windows approved for requests made with these tokens end with them (the same agent
    // exchanged anew, same names so the same binding, is held again), and requests still waiting
    // for an approver are cancelled: none of them can be approved into use any more.
    const requests = await endRequestsOfCredentials(tx, emit, { tokenIds: ids });
    await appendAudit(tx, who, { action: "token.revoke", subject: `token:${target.id}`, detail: { cascade: ids.length - 1, revoked: revoked.length, endedWindows: requests.endedWindows, cancelledRequests: requests.cancelled } });
    emit(Topics.tokenRevoked, { tokenIds: ids });
    return { id: target.id, revoked: revoked.map((r) => r.id) };
  });
}

function authorizeTarget(who: Caller, target: { id: string; userId: string; chain: { tokenId?: string }[] }) {
  const branch = managedBranchOf(who);
  if (branch !== null) {
    // An agent or a narrowed token may only revoke itself or tokens delegated below it.
    if (target.userId !== who.userId || !inBranch(branch, { tokenId: target.id, chain: target.chain })) throw new GatehouseError("NOT_FOUND", "no such token");
    return;
  }
  if (!authorizeOwner(who, target.userId)) throw new GatehouseError("NOT_FOUND", "no such token");
}

function authorizeOwner(who: Caller, ownerId: string) {
  try {
    authorize(who, "tokens:own", { ownerId });
    return true;
  } catch {
    return false;
  }
}
