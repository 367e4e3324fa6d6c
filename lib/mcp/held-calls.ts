import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { Principal } from "@/lib/gateway/core/types";

/**
 * Tool calls that were held for approval and outlived the MCP request that started them.
 *
 * An MCP client gives up on a request after ~60 s, while an approver may take minutes. Rather
 * than cancel the hold when the HTTP request ends (and make the approver's click worthless), the
 * hold keeps waiting in this process, bounded by the approval's own TTL. When it is decided the
 * call runs exactly as approved and its result waits here for `wait_for_approval`.
 *
 * Only the token that made the call can collect the result: the result was masked for that
 * principal's chain, and a sibling agent of the same human may be subject to other policies.
 */
interface HeldCall {
  approvalId: number;
  tokenId: string | null;
  userId: string;
  promise: Promise<CallToolResult>;
  result: CallToolResult | null;
}

/** How long a finished result stays collectable. */
const KEEP_MS = 15 * 60_000;

const g = globalThis as { __gatehouseMcpHeld?: Map<number, HeldCall> };
const calls: Map<number, HeldCall> = (g.__gatehouseMcpHeld ??= new Map());

export function parkHeldCall(approvalId: number, principal: Principal, promise: Promise<CallToolResult>) {
  const entry: HeldCall = { approvalId, tokenId: principal.tokenId, userId: principal.userId, promise, result: null };
  calls.set(approvalId, entry);
  void promise.then((result) => {
    entry.result = result;
    setTimeout(() => calls.get(approvalId) === entry && calls.delete(approvalId), KEEP_MS).unref();
  });
}

/** The held call behind an approval, if this principal made it; otherwise null (never a hint). */
export function findHeldCall(approvalId: number, principal: Principal): HeldCall | null {
  const entry = calls.get(approvalId);
  if (!entry || entry.userId !== principal.userId || entry.tokenId !== principal.tokenId) return null;
  return entry;
}

/** Resolves with the promise's value, or null once `ms` passed first. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), Math.max(0, ms));
    void promise.then((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}
