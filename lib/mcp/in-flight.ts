import type { RequestId } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "@/lib/gateway/core/types";

/**
 * Tool calls running in this process, by the credential that made them and their JSON-RPC id.
 *
 * A client cancels a call with `notifications/cancelled` — the SDK client sends one when its
 * request times out (60 s by default) or is aborted. Stateless MCP has no session: that
 * notification arrives in another HTTP request, at a fresh server that never saw the call, and
 * was dropped, so a command the agent had given up on ran on to its own timeout (up to ten
 * minutes). Here it finds its call. Only the same token can cancel (ids are the client's own
 * counters, so two clients of one user would otherwise reach each other's calls).
 */
const g = globalThis as { __gatehouseMcpInFlight?: Map<string, () => void> };
const calls: Map<string, () => void> = (g.__gatehouseMcpInFlight ??= new Map());

const keyOf = (p: Principal, id: RequestId) => `${p.tokenId ?? `user:${p.userId}`} ${typeof id} ${id}`;

/** Makes `cancel` reachable by the call's own token; returns the function that forgets it. */
export function trackCall(p: Principal, id: RequestId, cancel: () => void): () => void {
  const key = keyOf(p, id);
  calls.set(key, cancel);
  return () => {
    if (calls.get(key) === cancel) calls.delete(key);
  };
}

/** A `notifications/cancelled` from `p`: cancels that call of p's, if it is running here. */
export function cancelCall(p: Principal, id: RequestId) {
  calls.get(keyOf(p, id))?.();
}
