import { GatehouseError, type Actor } from "@/lib/gateway/core/types";

/**
 * Whose a just-in-time access grant is. A grant an agent asked for holds for that agent's token
 * and the tokens it delegates to (the agents it spawns, tickets minted from them): never for its
 * human or its sibling agents. A grant the user asked for themself holds for all their sessions,
 * agents included: a child holds what its parent holds, never more.
 */

/** Whose session asks for its grants: the credential's user, delegation chain and tokens. */
export interface GrantHolder {
  userId: string;
  chain: readonly Pick<Actor, "kind" | "tokenId">[];
  tokenId?: string | null;
  /** the token this one was exchanged or (a ticket) minted from */
  parentTokenId?: string | null;
}

/** The tokens a credential descends from, itself included: grants bound to any of them hold for it. */
export function grantLineage(holder: GrantHolder): string[] {
  const ids = new Set<string>();
  for (const a of holder.chain) if (a.tokenId) ids.add(a.tokenId);
  if (holder.tokenId) ids.add(holder.tokenId);
  if (holder.parentTokenId) ids.add(holder.parentTokenId);
  return [...ids];
}

/**
 * The token a grant for a request made with `chain` is bound to: the current actor's, when it is
 * a delegated one (an agent); null when the user (or service account) asked themself. A delegated
 * chain without its token cannot be bound, and must not become a grant for the whole user.
 */
export function grantActorOf(chain: readonly Pick<Actor, "kind" | "tokenId">[]): string | null {
  if (chain.length <= 1) return null;
  const tokenId = chain[chain.length - 1].tokenId;
  if (!tokenId) throw new GatehouseError("FORBIDDEN", "this request comes from an agent without its own delegated token, so no grant can be bound to it");
  return tokenId;
}
