/**
 * PolicyRuntime: the process-wide policy decision point the pipeline calls. It holds the active
 * engine and the decision cache; `setPolicies` is called by the DB/event-bus wiring whenever the
 * stored policy version changes.
 *
 * Fail closed everywhere:
 * - before the first `setPolicies`, every request is denied;
 * - if a new version does not compile (it was validated on save, so this means tampering or a
 *   schema change across an upgrade), the runtime denies everything rather than keep enforcing
 *   the previous version, which may still grant what the new one revoked;
 * - any throw inside a decision is a deny.
 * Decisions are synchronous, so the swap in `setPolicies` is atomic with respect to them.
 */
import type { GatewayRequest, Verdict } from "@/lib/gateway/core/types";
import { DecisionCache, DEFAULT_CACHE_ENTRIES, type CacheStats } from "./cache";
import { compilePolicySet, type CompileResult } from "./compile";
import { PolicyEngine, freezeVerdict, type EngineOptions } from "./engine";
import { explainVerdict, simulateWith, type Simulation } from "./simulate";
import { DENY_REASONS } from "./verdict";
import { loggable } from "@/lib/util/loggable";

export interface RuntimeOptions extends EngineOptions {
  cacheEntries?: number;
  /** false turns the cache off (benchmarks, debugging) */
  cache?: boolean;
}

type Active =
  | { state: "empty" }
  | { state: "broken"; version: string; text: string }
  | { state: "ready"; engine: PolicyEngine };

export class PolicyRuntime {
  private active: Active = { state: "empty" };
  private readonly cache: DecisionCache | null;
  private readonly installed = new Set<(version: string) => void>();
  private reload: (() => void) | null = null;

  constructor(private readonly options: RuntimeOptions = {}) {
    this.cache = options.cache === false ? null : new DecisionCache(options.cacheEntries ?? DEFAULT_CACHE_ENTRIES);
  }

  get version(): string | null {
    return this.active.state === "empty" ? null : this.active.state === "ready" ? this.active.engine.version : this.active.version;
  }

  get engine(): PolicyEngine | null {
    return this.active.state === "ready" ? this.active.engine : null;
  }

  /**
   * Compiles and installs a policy set. Re-installing the exact same text and version (the event
   * bus may deliver a change twice) keeps the current engine and its warm cache.
   */
  setPolicies(text: string, version: string): CompileResult {
    const current = this.active;
    if (current.state === "ready" && current.engine.version === version && current.engine.text === text) {
      return { ok: true, errors: [], warnings: current.engine.warnings, policies: [...current.engine.policies], timeSensitivity: current.engine.timeSensitivity, readsRequestText: current.engine.readsRequestText };
    }
    let next: Active;
    let result: CompileResult;
    try {
      const engine = new PolicyEngine(text, version, this.options);
      next = { state: "ready", engine };
      result = { ok: true, errors: [], warnings: engine.warnings, policies: [...engine.policies], timeSensitivity: engine.timeSensitivity, readsRequestText: engine.readsRequestText };
    } catch {
      next = { state: "broken", version, text };
      result = compilePolicySet(text);
      if (result.ok) {
        // Compiled but Cedar refused to preparse it: still broken, say so.
        result = { ...result, ok: false, errors: [{ severity: "error", message: "policy set could not be loaded" }] };
      }
    }
    this.active = next;
    // Entries are keyed by engine id and could never match again; clearing just frees memory.
    this.cache?.invalidate();
    if (current.state === "ready") current.engine.dispose();
    for (const fn of this.installed) {
      try {
        fn(version);
      } catch (err) {
        console.error("[policy] a listener of the new version failed:", loggable(err));
      }
    }
    return result;
  }

  /**
   * Calls `fn` after each newly installed version (not on a re-install of the same one), so what
   * was decided under the previous version can be decided again. Returns the unsubscribe.
   */
  onInstalled(fn: (version: string) => void): () => void {
    this.installed.add(fn);
    return () => this.installed.delete(fn);
  }

  /** How this process loads the newest stored version now (policy/sync.ts sets it). */
  setReloader(fn: (() => void) | null): void {
    this.reload = fn;
  }

  /**
   * Resolves true once version `version` (or a later one) is installed in this process, asking the
   * sync to load it at once; false after `timeoutMs`. A save answers only then: a statement sent
   * right after the answer must be decided by what was saved, not by the version before.
   */
  whenInstalled(version: number, timeoutMs: number): Promise<boolean> {
    const reached = () => Number(this.version) >= version;
    if (reached()) return Promise.resolve(true);
    return new Promise((resolve) => {
      let off = () => {};
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        off();
        resolve(ok);
      };
      const timer = setTimeout(() => finish(false), timeoutMs);
      off = this.onInstalled(() => {
        if (reached()) finish(true);
      });
      this.reload?.();
    });
  }

  /** Whether the loaded policies read the time (decisions can change as the clock moves). */
  get readsTime(): boolean {
    return this.active.state === "ready" && this.active.engine.timeSensitivity !== "none";
  }

  decide(req: GatewayRequest): Verdict {
    try {
      const active = this.active;
      if (active.state !== "ready") return this.unavailable(active);
      const engine = active.engine;
      const prepared = engine.prepare(req);
      const key = this.cache ? prepared.cacheKey : null;
      if (key !== null) {
        const hit = this.cache!.get(key);
        if (hit) return hit;
      }
      const evaluation = engine.evaluatePrepared(prepared);
      if (key !== null && evaluation.cacheable) this.cache!.set(key, evaluation.verdict);
      return evaluation.verdict;
    } catch {
      return freezeVerdict({ type: "deny", reason: DENY_REASONS.failed, policies: [] });
    }
  }

  simulate(req: GatewayRequest): Simulation {
    const active = this.active;
    if (active.state !== "ready") {
      const verdict = this.unavailable(active);
      return {
        verdict,
        policyVersion: this.version,
        determining: [],
        errors: [],
        explanation: explainVerdict(verdict, req.request?.action, req.connection?.name),
        elapsedMs: null,
      };
    }
    try {
      return simulateWith(active.engine, req);
    } catch (err) {
      const verdict = freezeVerdict({ type: "deny", reason: DENY_REASONS.failed, policies: [] });
      return {
        verdict,
        policyVersion: active.engine.version,
        determining: [],
        errors: [{ policy: "(evaluation)", message: err instanceof Error ? err.message : String(err) }],
        explanation: explainVerdict(verdict, req.request?.action, req.connection?.name),
        elapsedMs: null,
      };
    }
  }

  /**
   * Drops every cached decision. Not needed for correctness (keys hold the full Cedar input and
   * the engine id); for operators and tests.
   */
  invalidate(): void {
    this.cache?.invalidate();
  }

  cacheStats(): CacheStats | null {
    return this.cache?.stats() ?? null;
  }

  private unavailable(active: Exclude<Active, { state: "ready" }>): Verdict {
    const reason =
      active.state === "empty" ? "no policy set is loaded" : `policy set ${active.version} is invalid; refusing all requests`;
    return freezeVerdict({ type: "deny", reason, policies: [] });
  }
}

/**
 * The process-wide runtime. Kept on globalThis because Next bundles its own copy of lib/: the
 * console's simulator and the gateway listeners must see the same policies.
 */
export function getPolicyRuntime(): PolicyRuntime {
  const g = globalThis as typeof globalThis & { __gatehousePolicyRuntime?: PolicyRuntime };
  g.__gatehousePolicyRuntime ??= new PolicyRuntime();
  return g.__gatehousePolicyRuntime;
}
