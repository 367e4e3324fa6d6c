import type { Caller } from "@/lib/auth/caller";
import { CallerCap, limitFrom } from "@/lib/auth/caller-caps";

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
 * as an approval wait instead (gateway-call.ts). Per process: each Gatehouse node counts its own.
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

/** A slot for one call, as its release function (safe to call twice); null when none is free. */
export function takeCallSlot(caller: Pick<Caller, "userId" | "principal">): (() => void) | null {
  return calls.acquire(caller);
}
