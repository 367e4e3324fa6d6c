import { getDbHandle } from "@/db/client";
import { STORE_UNAVAILABLE } from "@/db/unavailable";
import type { Caller } from "@/lib/auth/caller";
import { CallerCap, limitFrom } from "@/lib/auth/caller-caps";
import { GatehouseError } from "@/lib/gateway/core/types";
import { giveSharedSlot, takeSharedSlot } from "@/lib/services/mcp/shared-call-slots";
import { loggable } from "@/lib/util/loggable";

/**
 * How many MCP tool calls one user's credentials may have working at once
 * (GATEHOUSE_MCP_MAX_CALLS_PER_USER each, in two pools): the human's own tokens (login, personal,
 * script tokens) in one, and every agent acting for it — all branches and their sub-agents — in
 * the other. Minting more child tokens does not raise either, and a runaway agent fills at most
 * its agents' pool: its human can still work (and revoke it).
 *
 * Nothing else bounded it: one HTTP request may carry a batch of 100 calls, a client may send
 * requests without end, and each call holds an upstream connection (a run_ssh_command up to
 * ten minutes), so one agent could open as many database and SSH connections as it liked. A
 * call over the limit is refused before anything is opened. A call waiting for a person (a held
 * `connect` or request) holds nothing upstream and gives its slot back; a held `connect` counts
 * as an approval wait instead (gateway-call.ts). On a shared PostgreSQL the processes count
 * together (lib/services/mcp/shared-call-slots.ts): a store that fails refuses the call.
 */
const limit = limitFrom("GATEHOUSE_MCP_MAX_CALLS_PER_USER", 16);

export function maxCallsPerUser(): number {
  return limit();
}

/** The pool a call counts in: the human's own, or the one all its agents share. */
export function callPoolOf(caller: Pick<Caller, "userId" | "principal">): string {
  return (caller.principal?.chain.length ?? 1) > 1 ? `agents:${caller.userId}` : `user:${caller.userId}`;
}

const g = globalThis as { __gatehouseMcpSlots?: Map<string, number> };
const calls = new CallerCap("MCP calls", limit, (g.__gatehouseMcpSlots ??= new Map()), callPoolOf);

/** A slot for one call, as its release function (safe to call twice); null when none is free. Throws UNAVAILABLE when the shared count cannot be read. */
export async function takeCallSlot(caller: Pick<Caller, "userId" | "principal">): Promise<(() => void) | null> {
  // This process's own count first: no store round trip for a caller already over the limit here.
  const local = calls.acquire(caller);
  if (!local) return null;
  let handle;
  let id: string | null;
  try {
    handle = await getDbHandle();
    if (handle.kind !== "postgres") return local; // the embedded database has one process: the local count is the count
    id = await takeSharedSlot(handle.db, callPoolOf(caller), limit());
  } catch (err) {
    local();
    console.error("[mcp] taking a shared call slot failed, refusing the call:", loggable(err));
    throw new GatehouseError("UNAVAILABLE", STORE_UNAVAILABLE);
  }
  if (!id) {
    local();
    return null;
  }
  const { db } = handle;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    local();
    giveSharedSlot(db, id);
  };
}
