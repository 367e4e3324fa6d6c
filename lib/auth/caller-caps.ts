import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";

/**
 * Per-caller caps on things a caller can hold open for long: WebSockets, approval long-polls.
 * Without them one user (or one runaway agent) could hold every file descriptor and timer of the
 * process. Counted per process: behind a load balancer each node enforces its own.
 *
 * The key is the person, except for agents: an agent and the sub-agents it spawned share their
 * branch's count (spawning children does not multiply it), and one busy agent cannot starve its
 * human or its sibling agents.
 */
export function capKeyOf(caller: Pick<Caller, "userId" | "principal">): string {
  const chain = caller.principal?.chain ?? [];
  if (chain.length <= 1) return `user:${caller.userId}`;
  return `branch:${chain[1].tokenId ?? caller.principal?.tokenId ?? "none"}`;
}

export class CallerCap {
  constructor(
    readonly what: string,
    readonly limit: () => number,
    private readonly open = new Map<string, number>(),
    private readonly keyOf: (caller: Pick<Caller, "userId" | "principal">) => string = capKeyOf,
  ) {}

  /** A release function, or null when this caller already holds the maximum. */
  acquire(caller: Pick<Caller, "userId" | "principal">): (() => void) | null {
    const key = this.keyOf(caller);
    const n = this.open.get(key) ?? 0;
    if (n >= this.limit()) return null;
    this.open.set(key, n + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }

  /** Runs `fn` holding one slot; RATE_LIMITED (HTTP 429, an MCP tool error) when none is free. */
  async within<T>(caller: Pick<Caller, "userId" | "principal">, fn: () => Promise<T>): Promise<T> {
    const release = this.acquire(caller);
    if (!release) throw new GatehouseError("RATE_LIMITED", `too many ${this.what} open at once for this caller (at most ${this.limit()}); close one first`);
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

/** A positive whole number from the environment, read once; a bad value is the default, said loudly. */
export function limitFrom(name: string, fallback: number): () => number {
  let value: number | null = null;
  return () => {
    if (value !== null) return value;
    const raw = process.env[name];
    const n = raw ? Number(raw) : fallback;
    // A bad setting is not "no limit": fall back to the default, loudly.
    if (!Number.isInteger(n) || n < 1) console.error(`[gatehouse] ${name} must be a whole number ≥ 1, not "${raw}"; using ${fallback}`);
    value = Number.isInteger(n) && n >= 1 ? n : fallback;
    return value;
  };
}

// Only the counts are shared through globalThis (Next bundles its own copy of lib/, the WebSocket
// router lives in server.ts's): a shared instance would throw the other copy's GatehouseError,
// which this copy's error mapping does not recognise.
const g = globalThis as { __gatehouseCallerCounts?: { sockets: Map<string, number>; approvalWaits: Map<string, number> } };
const counts = (g.__gatehouseCallerCounts ??= { sockets: new Map(), approvalWaits: new Map() });

/** Open WebSockets (live view, browser terminal, /ws/events) per caller. */
export const openSockets = new CallerCap("WebSockets", limitFrom("GATEHOUSE_MAX_WEBSOCKETS_PER_CALLER", 32), counts.sockets);
/** Concurrent approval long-polls (REST /approvals/:id/wait and access requests with `wait`, MCP wait_for_approval and request_access with wait_seconds) per caller. */
export const approvalWaits = new CallerCap("approval waits", limitFrom("GATEHOUSE_MAX_WAITS_PER_CALLER", 16), counts.approvalWaits);
