import { getDb } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";

/** A uuid no token has: an agent without a token (none is issued so) sees no session. */
const NO_TOKEN = "00000000-0000-0000-0000-000000000000";

/**
 * The token whose sessions a delegated (agent) caller may read: its own and its descendants',
 * never its human's or a sibling agent's (they may show what the agent's masking hides). Null for
 * a caller that is not an agent.
 */
export function agentScopeOf(caller: Caller): string | null {
  const p = caller.principal;
  if (!p || p.chain.length <= 1) return null;
  return p.tokenId ?? NO_TOKEN;
}

/** Whether the caller may read this session: its own user (an agent: its own branch), or all sessions. */
export function seesSession(caller: Caller, s: { userId: string | null; tokenId: string | null; chain: readonly { tokenId?: string }[] }): boolean {
  if (!can(caller, "sessions:read-own", { ownerId: s.userId })) return false;
  const agent = agentScopeOf(caller);
  return agent === null || s.tokenId === agent || s.chain.some((a) => a.tokenId === agent);
}

/** Object check for one session: its own user, or someone who may read all sessions. */
export async function readableSession(caller: Caller, id: string) {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new GatehouseError("NOT_FOUND", "no such session");
  const s = await getSession(await getDb(), id);
  // Not found and not yours look the same.
  if (!s || !seesSession(caller, s)) throw new GatehouseError("NOT_FOUND", "no such session");
  return s;
}
