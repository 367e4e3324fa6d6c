import { Topics } from "@/lib/events/bus";
import { and, eq, isNull } from "drizzle-orm";
import { activeGrantsOf, getGrant } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { accessGrants } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import type { AccessGrant, Actor } from "@/lib/gateway/core/types";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/** Whose session asks for its grants: the credential's user, delegation chain and tokens. */
export interface GrantHolder {
  userId: string;
  chain: readonly Pick<Actor, "kind" | "tokenId">[];
  tokenId?: string | null;
  /** a ticket's: the token it was minted from (its chain carries no tokens but its own) */
  parentTokenId?: string | null;
}

/**
 * Unexpired, unrevoked grants on a connection that hold for this credential: the pipeline's
 * `GatewayRequest.grants`. A grant an agent asked for holds for that agent and the agents it
 * spawns (they descend from its token), never for its human or its sibling agents; a grant the
 * user asked for themself holds for all their sessions, agents included (a child holds what its
 * parent holds, never more).
 */
export async function activeGrants(db: Db, holder: GrantHolder, connectionId: string): Promise<AccessGrant[]> {
  return activeGrantsOf(db, holder.userId, connectionId, grantLineage(holder));
}

/** The tokens a credential descends from, itself included. */
export function grantLineage(holder: GrantHolder): string[] {
  const ids = new Set<string>();
  for (const a of holder.chain) if (a.tokenId) ids.add(a.tokenId);
  if (holder.tokenId) ids.add(holder.tokenId);
  if (holder.parentTokenId) ids.add(holder.parentTokenId);
  return [...ids];
}

/**
 * The token a grant for a request made with `chain` is bound to: the current actor's, when it is a
 * delegated one (an agent); null when the user (or service account) asked themself. A delegated
 * chain without its token cannot be bound, and must not become a grant for the whole user.
 */
export function grantActorOf(chain: readonly Pick<Actor, "kind" | "tokenId">[]): string | null {
  if (chain.length <= 1) return null;
  const tokenId = chain[chain.length - 1].tokenId;
  if (!tokenId) throw new GatehouseError("FORBIDDEN", "an agent asks for access with its own delegated token");
  return tokenId;
}

/** Ends a grant before its time (approvers and admins). */
export async function revokeGrant(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "approvals:decide");
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new GatehouseError("NOT_FOUND", "no such grant");
  const grant = await getGrant(db, id);
  if (!grant) throw new GatehouseError("NOT_FOUND", "no such grant");
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .update(accessGrants)
      .set({ revokedAt: new Date() })
      .where(and(eq(accessGrants.id, id), isNull(accessGrants.revokedAt)))
      .returning({ id: accessGrants.id, revokedAt: accessGrants.revokedAt });
    if (!row) throw new GatehouseError("CONFLICT", "this grant is already revoked");
    await appendAudit(tx, who, { action: "grant.revoke", subject: `grant:${id}`, detail: { userId: grant.userId, connectionId: grant.connectionId, approval: grant.requestId } });
    emit(Topics.grantRevoked, { id, userId: grant.userId, connectionId: grant.connectionId });
    return { id, revokedAt: row.revokedAt };
  });
}
