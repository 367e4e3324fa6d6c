/**
 * Decision cache. A stale decision is a security bug, so the key is not a hand-picked list of
 * "fields that matter": it is the serialization of the exact Cedar input (principal, action,
 * resource, entities, context — see context.ts), prefixed with the engine's identity (policy
 * version plus a per-instance nonce, so even re-loading the same version string never reuses an
 * old entry). The only thing left out is the clock, and only as far as the policy set provably
 * ignores it (compile.ts `timeSensitivity`):
 *
 *   none   -> time left out of the key
 *   coarse -> hour and weekday in the key (epoch left out: no policy reads it)
 *   exact  -> not cached at all
 *
 * The same holds for `context.request.text` (compile.ts `readsRequestText`): it is left out of
 * the key only when no policy can read it, so one entry serves every literal of a statement.
 *
 * What comes from the session (principal, resource, entities, the chain and client context) is
 * built once per session and named by an id when the session sealed its inputs (context.ts
 * `sealForPolicy`): the key then holds that id — which stands for exactly one content — instead
 * of serializing the same parts again for every statement.
 *
 * Only clean decisions are stored: denies caused by timeouts or evaluation errors are
 * recomputed next time rather than pinned.
 */
import type { Verdict } from "@/lib/gateway/core/types";
import type { TimeSensitivity } from "./compile";
import type { CedarRequest } from "./context";

export const DEFAULT_CACHE_ENTRIES = 10_000;
/** Longer keys (huge statements, COPY data) are evaluated every time instead of pinning memory. */
export const MAX_CACHE_KEY_LENGTH = 8_192;

export function decisionCacheKey(
  engineId: string,
  input: CedarRequest,
  time: TimeSensitivity,
  readsText = true,
): string | null {
  if (time === "exact") return null;
  // The session's part by its id when it has one (the same content always has the same id),
  // else spelled out; the rest of the context whatever it holds.
  const { chain, client, ...rest } = input.context;
  const session = input.sessionPartId ?? [input.principal, input.resource, input.entities, chain, client];
  const context = readsText ? rest : { ...rest, request: { ...rest.request, text: null } };
  const parts: unknown[] = [engineId, session, input.action, context];
  if (time === "coarse") parts.push(input.time.hour, input.time.weekday);
  const key = JSON.stringify(parts);
  return key.length > MAX_CACHE_KEY_LENGTH ? null : key;
}

export interface CacheStats {
  size: number;
  hits: number;
  misses: number;
}

/** LRU over a Map: iteration order is insertion order, so the first key is the coldest. */
export class DecisionCache {
  private readonly entries = new Map<string, Verdict>();
  private hits = 0;
  private misses = 0;

  constructor(readonly maxEntries: number = DEFAULT_CACHE_ENTRIES) {
    if (!(maxEntries >= 1)) throw new RangeError("cache needs room for at least one entry");
  }

  get(key: string): Verdict | undefined {
    const hit = this.entries.get(key);
    if (hit === undefined) {
      this.misses++;
      return undefined;
    }
    this.hits++;
    this.entries.delete(key);
    this.entries.set(key, hit);
    return hit;
  }

  set(key: string, verdict: Verdict): void {
    this.entries.delete(key);
    this.entries.set(key, verdict);
    if (this.entries.size > this.maxEntries) {
      const coldest = this.entries.keys().next().value;
      if (coldest !== undefined) this.entries.delete(coldest);
    }
  }

  invalidate(): void {
    this.entries.clear();
  }

  stats(): CacheStats {
    return { size: this.entries.size, hits: this.hits, misses: this.misses };
  }
}
