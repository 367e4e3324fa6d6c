import { getDb } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { can } from "@/lib/auth/authorize";
import { inBranch, managedBranchOf } from "@/lib/auth/agent-branch";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";

/**
 * Whether the caller may read this session: its own user, or all sessions. A delegated (agent) or
 * narrowed (script) token reads only its own branch's: a recording holds what its user was shown
 * on every connection, and a token scoped to one connection must not read the others through it.
 */
export function seesSession(caller: Caller, s: { userId: string | null; tokenId: string | null; chain: readonly { tokenId?: string }[] }): boolean {
  if (!can(caller, "sessions:read-own", { ownerId: s.userId })) return false;
  const branch = managedBranchOf(caller);
  return branch === null || inBranch(branch, s);
}

/** Object check for one session: its own user, or someone who may read all sessions. */
export async function readableSession(caller: Caller, id: string) {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new GatehouseError("NOT_FOUND", "no such session");
  const s = await getSession(await getDb(), id);
  // Not found and not yours look the same.
  if (!s || !seesSession(caller, s)) throw new GatehouseError("NOT_FOUND", "no such session");
  return s;
}
