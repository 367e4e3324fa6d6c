import { isNarrowed } from "./authorize";
import type { Caller } from "./caller";

/** A uuid no token has: an agent without a token (none is issued so) sees nothing of anyone's. */
const NO_TOKEN = "00000000-0000-0000-0000-000000000000";

/**
 * The token whose doings a delegated (agent) caller may read: its own and its descendants' (the
 * agents it spawned), never its human's or a sibling agent's: those may show what the agent's
 * masking hides, statement text and parameters it was not given, reasons it should not know.
 * Null for a caller that is not an agent (a user, or a user's narrowed token).
 */
export function agentScopeOf(caller: Caller): string | null {
  const p = caller.principal;
  if (!p || p.chain.length <= 1) return null;
  return p.tokenId ?? NO_TOKEN;
}

/** Whether something done with this credential chain (a session, a request) is in the agent's branch. */
export function inBranch(agentTokenId: string, done: { tokenId?: string | null; chain: readonly { tokenId?: string }[] }): boolean {
  return done.tokenId === agentTokenId || done.chain.some((a) => a.tokenId === agentTokenId);
}

/**
 * The token whose branch a narrowed credential (an agent's, or a personal token scoped to some
 * connections or actions, as a script or CI job holds) lists and revokes tokens in: itself and
 * the tokens delegated below it, not the rest of its user's. Null for a full user credential.
 */
export function managedBranchOf(caller: Caller): string | null {
  const p = caller.principal;
  if (!p || !isNarrowed(p)) return null;
  return p.tokenId ?? NO_TOKEN;
}
