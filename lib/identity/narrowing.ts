/**
 * Delegation narrowing, pure: a child credential can never hold more than its parent. Checked
 * server-side on every exchange against the STORED parent row, never against claims.
 */
export const DEFAULT_MAX_DEPTH = 3;

export function maxDelegationDepth(): number {
  const n = Number(process.env.GATEHOUSE_MAX_DELEGATION_DEPTH ?? DEFAULT_MAX_DEPTH);
  return Number.isInteger(n) && n >= 0 && n <= 10 ? n : DEFAULT_MAX_DEPTH;
}

/** `requested` ⊆ `parent`, where "*" in the parent allows anything and "*" requested needs "*". */
export function isSubset(requested: readonly string[], parent: readonly string[]): boolean {
  if (parent.includes("*")) return true;
  return requested.every((r) => r !== "*" && parent.includes(r));
}

export type Narrowed =
  | { ok: true; connections: string[]; actions: string[]; ttlSeconds: number; depth: number }
  | { ok: false; error: "invalid_scope" | "invalid_request"; description: string };

export function narrow(
  parent: { scopeConnections: string[]; scopeActions: string[]; expiresAt: Date; depth: number },
  requested: { connections?: string[]; actions?: string[]; ttlSeconds?: number },
  now = Date.now(),
  maxDepth = maxDelegationDepth(),
): Narrowed {
  const connections = requested.connections?.length ? requested.connections : parent.scopeConnections;
  const actions = requested.actions?.length ? requested.actions : parent.scopeActions;
  if (!isSubset(connections, parent.scopeConnections)) return { ok: false, error: "invalid_scope", description: `connections [${connections.join(", ")}] exceed the parent's [${parent.scopeConnections.join(", ")}]` };
  if (!isSubset(actions, parent.scopeActions)) return { ok: false, error: "invalid_scope", description: `actions [${actions.join(", ")}] exceed the parent's [${parent.scopeActions.join(", ")}]` };
  const remaining = Math.floor((parent.expiresAt.getTime() - now) / 1000);
  if (remaining < 1) return { ok: false, error: "invalid_request", description: "the parent token has expired" };
  const ttlSeconds = requested.ttlSeconds ?? Math.min(3600, remaining);
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1) return { ok: false, error: "invalid_request", description: "expires_in must be a positive number of seconds" };
  if (ttlSeconds > remaining) return { ok: false, error: "invalid_request", description: `a child cannot outlive its parent (${remaining} s left, ${ttlSeconds} s asked)` };
  const depth = parent.depth + 1;
  if (depth > maxDepth) return { ok: false, error: "invalid_request", description: `delegation depth ${depth} exceeds the maximum of ${maxDepth}` };
  return { ok: true, connections, actions, ttlSeconds, depth };
}
