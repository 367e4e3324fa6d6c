import { getDbHandle } from "@/db/client";
import { STORE_UNAVAILABLE } from "@/db/unavailable";
import type { Caller } from "@/lib/auth/caller";
import { CallerCap, capKeyOf, limitFrom } from "@/lib/auth/caller-caps";
import { GatehouseError } from "@/lib/gateway/core/types";
import { giveSharedSlot, takeSharedSlot } from "@/lib/services/mcp/shared-call-slots";
import { loggable } from "@/lib/util/loggable";

/**
 * How many MCP tool calls one user's credentials may have working at once
 * (GATEHOUSE_MCP_MAX_CALLS_PER_USER each, in two pools): the human's own tokens (login, personal,
 * script tokens) in one, and every agent acting for it — all branches and their sub-agents — in
 * the other. Minting more child tokens does not raise either, and a runaway agent fills at most
 * its agents' pool: its human can still work (and revoke it). Inside the agents' pool each
 * top-level agent with the sub-agents it spawned (its branch) may hold at most
 * GATEHOUSE_MCP_MAX_CALLS_PER_AGENT (default: half the pool, rounded up), so one busy agent
 * cannot starve its sibling agents either; and so on down: each sub-agent's branch may hold at most
 * half (rounded up) of what its parent's branch may, so no sub-agent starves its siblings or the
 * agent that spawned it, at any depth.
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
let perAgent: (() => number) | null = null;

export function maxCallsPerUser(): number {
  return limit();
}

/** What one agent branch may hold of its agents' pool: never more than the pool. */
export function maxCallsPerAgent(): number {
  perAgent ??= limitFrom("GATEHOUSE_MCP_MAX_CALLS_PER_AGENT", Math.ceil(limit() / 2));
  return Math.min(perAgent(), limit());
}

/** The pool a call counts in: the human's own, or the one all its agents share. */
export function callPoolOf(caller: Pick<Caller, "userId" | "principal">): string {
  return (caller.principal?.chain.length ?? 1) > 1 ? `agents:${caller.userId}` : `user:${caller.userId}`;
}

/** One agent branch a call counts in: its key, what it may hold, and the agent at its top. */
export interface Branch {
  key: string;
  limit: number;
  agent: string;
}

/**
 * The agent branches a call counts in, from its top-level agent's down to its own (none for the
 * human's own credentials). A branch's key extends its parent's, so counting a branch counts
 * everything below it.
 */
export function branchesOf(caller: Pick<Caller, "userId" | "principal">): Branch[] {
  const chain = caller.principal?.chain ?? [];
  if (chain.length <= 1) return [];
  const branches: Branch[] = [{ key: capKeyOf(caller), limit: maxCallsPerAgent(), agent: chain[1].name }];
  for (let depth = 2; depth < chain.length; depth++) {
    const parent = branches.at(-1)!;
    // a token id is one sub-agent; without one, sub-agents of one name count together (never more room)
    branches.push({ key: `${parent.key}/${chain[depth].tokenId ?? `name:${chain[depth].name}`}`, limit: Math.ceil(parent.limit / 2), agent: chain[depth].name });
  }
  return branches;
}

const g = globalThis as { __gatehouseMcpSlots?: Map<string, number>; __gatehouseMcpBranchCounts?: Map<string, number> };
const calls = new CallerCap("MCP calls", limit, (g.__gatehouseMcpSlots ??= new Map()), callPoolOf);
const branchCounts = (g.__gatehouseMcpBranchCounts ??= new Map());

/** Which count was full: the pool (the human's own, or all the agents'), or an agent branch's share of it (its depth, 1 for a top-level agent's). */
export type SlotRefusal = "pool" | "agent" | `agent:${number}`;

/** The refusal for the branch at `index` in branchesOf (the top-level agent's is plain "agent"). */
export const branchRefusal = (index: number): SlotRefusal => (index === 0 ? "agent" : `agent:${index + 1}`);

/** One slot in every branch, or the index of the first (topmost) that is full. */
function acquireBranches(branches: Branch[]): (() => void) | number {
  const full = branches.findIndex((b) => (branchCounts.get(b.key) ?? 0) >= b.limit);
  if (full >= 0) return full;
  for (const b of branches) branchCounts.set(b.key, (branchCounts.get(b.key) ?? 0) + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const b of branches) {
      const left = (branchCounts.get(b.key) ?? 1) - 1;
      if (left > 0) branchCounts.set(b.key, left);
      else branchCounts.delete(b.key);
    }
  };
}

/**
 * A slot for one call, as its release function (safe to call twice), or which count is full.
 * Throws UNAVAILABLE when the shared count cannot be read.
 */
export async function takeCallSlot(caller: Pick<Caller, "userId" | "principal">): Promise<(() => void) | SlotRefusal> {
  // This process's own counts first: no store round trip for a caller already over a limit here.
  // The pool first: when both are full, that the whole pool is busy is what the caller needs to know.
  const pooled = calls.acquire(caller);
  if (!pooled) return "pool";
  const branches = branchesOf(caller);
  const ownShare = acquireBranches(branches);
  if (typeof ownShare === "number") {
    pooled();
    return branchRefusal(ownShare);
  }
  const local = () => {
    pooled();
    ownShare();
  };
  let handle;
  let taken: string;
  try {
    handle = await getDbHandle();
    if (handle.kind !== "postgres") return local; // the embedded database has one process: the local count is the count
    taken = await takeSharedSlot(handle.db, callPoolOf(caller), limit(), branches);
  } catch (err) {
    local();
    console.error("[mcp] taking a shared call slot failed, refusing the call:", loggable(err));
    throw new GatehouseError("UNAVAILABLE", STORE_UNAVAILABLE);
  }
  if (taken === "pool" || taken.startsWith("agent")) {
    local();
    return taken as SlotRefusal;
  }
  const id = taken;
  const { db } = handle;
  let released = false;
  return () => {
    if (released) return;
    released = true;
    local();
    giveSharedSlot(db, id);
  };
}
