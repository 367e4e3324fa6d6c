/**
 * PolicyEngine: one compiled, immutable policy set bound to a Cedar preparsed policy set.
 * Construction validates (an invalid set throws INVALID) and preparses once; `evaluate` builds the
 * Cedar request, calls `statefulIsAuthorized` (no re-parse per call) and hands the answer to
 * `combineVerdict`. It never throws and never answers anything but deny on trouble.
 *
 * Caching lives one level up (runtime.ts); the engine exposes `prepare` + `evaluatePrepared` so
 * the runtime can compute the cache key from the very input Cedar would see.
 */
import { createHash, randomUUID } from "node:crypto";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import type { AuthorizationAnswer, StatefulAuthorizationCall } from "@cedar-policy/cedar-wasm/nodejs";
import { GatehouseError, type GatewayRequest, type Verdict } from "@/lib/gateway/core/types";
import { decisionCacheKey } from "./cache";
import { compilePolicySet, type CompiledPolicy, type CompileResult, type TimeSensitivity } from "./compile";
import { buildCedarRequest, toCedarContext, type BuildResult, type CedarRequest } from "./context";
import { isRequestKind, POLICY_SCHEMA } from "./schema";
import { combineVerdict, type EvaluationResult, type PolicyInfo } from "./verdict";

/** Generous against GC pauses, far above a healthy evaluation (tens to hundreds of µs). */
export const DEFAULT_TIMEOUT_MS = 100;

/**
 * Cedar's cost grows with the request text it is handed (copied into wasm, validated against the
 * schema, matched by `like`): a 512 KiB statement measured 11-20 ms warm and 60-100 ms on its first
 * evaluations, so under load a fixed budget denied it. Each whole KiB of text adds this much to
 * the budget, up to `MAX_TEXT_ALLOWANCE_MS`; a short request keeps the plain budget, so a
 * pathological policy is still caught where it matters.
 */
export const TEXT_ALLOWANCE_MS_PER_KIB = 0.5;
export const MAX_TEXT_ALLOWANCE_MS = 900;

/** The wall-clock budget for evaluating a request whose text is `textLength` characters long. */
export function evaluationBudgetMs(baseMs: number, textLength: number): number {
  return baseMs + Math.min(MAX_TEXT_ALLOWANCE_MS, Math.floor(textLength / 1024) * TEXT_ALLOWANCE_MS_PER_KIB);
}

/** The slice of the Cedar binding the engine calls; injectable so tests can make it misbehave. */
export interface CedarEvaluator {
  statefulIsAuthorized(call: StatefulAuthorizationCall): AuthorizationAnswer;
}

export interface EngineOptions {
  timeoutMs?: number;
  /** milliseconds, monotonic; default performance.now */
  clock?: () => number;
  cedar?: CedarEvaluator;
}

export interface PreparedRequest {
  req: GatewayRequest;
  build: BuildResult;
  /** null when the decision must not be cached (see cache.ts) */
  cacheKey: string | null;
}

export interface Evaluation {
  verdict: Verdict;
  result: EvaluationResult;
  /** true when the verdict may be stored in the decision cache */
  cacheable: boolean;
}

// The schema is preparsed once per wasm instance under a name derived from its text, so two
// bundled copies of this module (Next bundles lib/ separately) agree on it.
const SCHEMA_NAME = `gatehouse-schema-${createHash("sha256").update(POLICY_SCHEMA).digest("hex").slice(0, 16)}`;
let schemaReady = false;
function ensureSchema(): void {
  if (schemaReady) return;
  const answer = cedar.preparseSchema(SCHEMA_NAME, POLICY_SCHEMA);
  if (answer.type !== "success") throw new Error(`policy schema does not parse: ${answer.errors[0]?.message}`);
  schemaReady = true;
}

const WARM_UP_REQUEST: GatewayRequest = {
  principal: {
    userId: "warm-up",
    email: "warm-up@gatehouse.invalid",
    role: "member",
    groups: ["warm-up"],
    chain: [
      { kind: "user", id: "warm-up", name: "warm-up" },
      { kind: "agent", id: "warm-up-agent", name: "warm-up-agent" },
    ],
    tokenId: null,
    scopeConnections: ["*"],
    scopeActions: ["*"],
  },
  connection: { id: "warm-up", name: "warm-up", type: "postgres", tags: ["warm-up"] },
  client: { address: "127.0.0.1", protocol: "postgres", origin: "native" },
  request: { action: "read", kind: "read", tables: ["warm_up"], functions: [], text: "SELECT 1" },
};

export class PolicyEngine {
  readonly policies: readonly CompiledPolicy[];
  readonly timeSensitivity: TimeSensitivity;
  readonly readsRequestText: boolean;
  readonly warnings: CompileResult["warnings"];
  /** version + nonce: identifies this instance in Cedar's preparsed store and in cache keys */
  readonly id: string;
  private readonly byCedarId: ReadonlyMap<string, PolicyInfo>;
  private readonly timeoutMs: number;
  private readonly clock: () => number;
  private readonly cedar: CedarEvaluator;
  private disposed = false;

  static compile(text: string): CompileResult {
    return compilePolicySet(text);
  }

  constructor(
    readonly text: string,
    readonly version: string,
    options: EngineOptions = {},
  ) {
    const compiled = compilePolicySet(text);
    if (!compiled.ok) {
      throw new GatehouseError("INVALID", `policy set ${version} is invalid`, { errors: compiled.errors });
    }
    this.policies = compiled.policies;
    this.timeSensitivity = compiled.timeSensitivity;
    this.readsRequestText = compiled.readsRequestText;
    this.warnings = compiled.warnings;
    this.byCedarId = new Map(compiled.policies.map((p) => [p.cedarId, p]));
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.clock = options.clock ?? (() => performance.now());
    this.cedar = options.cedar ?? cedar;
    // A random nonce, not a counter: the preparsed store is shared by every copy of this module
    // in the process, and two engines must never overwrite each other's policies.
    this.id = `gatehouse:${version}:${randomUUID()}`;
    ensureSchema();
    const parsed = cedar.preparsePolicySet(this.id, { staticPolicies: text });
    if (parsed.type !== "success") {
      throw new GatehouseError("INVALID", `policy set ${version} does not parse`, { errors: parsed.errors });
    }
    this.warmUp();
  }

  /**
   * The first evaluation in a process pays for lazy wasm compilation (30-60 ms measured, more
   * under load), which would trip the timeout and deny the first real request. Pay it here.
   */
  private warmUp(): void {
    const now = new Date(0);
    const built = buildCedarRequest(WARM_UP_REQUEST, now);
    if (!built.ok) return;
    try {
      this.run(built.request);
    } catch {
      // Only a warm-up: a broken evaluator shows up (as deny) on real requests.
    }
  }

  policy(cedarId: string): PolicyInfo | undefined {
    return this.byCedarId.get(cedarId);
  }

  decide(req: GatewayRequest): Verdict {
    return this.evaluate(req).verdict;
  }

  evaluate(req: GatewayRequest): Evaluation {
    return this.evaluatePrepared(this.prepare(req));
  }

  prepare(req: GatewayRequest): PreparedRequest {
    let build: BuildResult;
    try {
      build = buildCedarRequest(req, req?.now ?? new Date());
    } catch {
      // A request missing whole parts (no principal, no connection) is a caller bug: refuse it.
      build = { ok: false, reason: "malformed policy request" };
    }
    const cacheKey = build.ok ? decisionCacheKey(this.id, build.request, this.timeSensitivity, this.readsRequestText) : null;
    return { req, build, cacheKey };
  }

  evaluatePrepared(prepared: PreparedRequest): Evaluation {
    const { req, build } = prepared;
    const budgetMs = evaluationBudgetMs(this.timeoutMs, build.ok ? textLength(build.request) : 0);
    let result: EvaluationResult;
    try {
      if (!build.ok) result = { status: "refused", reason: build.reason };
      else if (!isRequestKind(req.request.kind)) result = { status: "skipped" };
      else {
        result = this.run(build.request);
        // A wall-clock budget also trips on a GC pause or a starved CPU. Evaluate once more: a
        // pathological policy is slow both times (deny), a passing stall is absorbed.
        if (result.status === "decided" && !(result.elapsedMs <= budgetMs)) result = this.run(build.request);
      }
    } catch (err) {
      result = { status: "failed", message: messageOf(err), elapsedMs: 0 };
    }
    const verdict = freezeVerdict(
      combineVerdict({
        action: String(req?.request?.action),
        connection: String(req?.connection?.name),
        kind: req?.request?.kind,
        result,
        policies: this.byCedarId,
        timeoutMs: budgetMs,
      }),
    );
    const cacheable =
      result.status === "decided" && result.errors.length === 0 && result.elapsedMs <= budgetMs;
    return { verdict, result, cacheable };
  }

  /** Frees Cedar's copy of the policies; afterwards every evaluation fails (deny). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    cedar.preparsePolicySet(this.id, { staticPolicies: "" });
  }

  private run(input: CedarRequest): EvaluationResult {
    if (this.disposed) return { status: "failed", message: "policy engine disposed", elapsedMs: 0 };
    const started = this.clock();
    const answer = this.cedar.statefulIsAuthorized({
      principal: input.principal,
      action: input.action,
      resource: input.resource,
      context: toCedarContext(input),
      entities: input.entities,
      preparsedPolicySetId: this.id,
      preparsedSchemaName: SCHEMA_NAME,
      validateRequest: true,
    });
    const elapsedMs = this.clock() - started;
    if (answer.type !== "success") {
      return { status: "failed", message: answer.errors.map((e) => e.message).join("; "), elapsedMs };
    }
    const { decision, diagnostics } = answer.response;
    return {
      status: "decided",
      decision,
      determining: diagnostics.reason,
      errors: diagnostics.errors.map((e) => ({ policyId: e.policyId, message: e.error.message })),
      elapsedMs,
    };
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Verdicts are shared through the cache; freezing turns an accidental mutation into a throw. */
export function freezeVerdict(v: Verdict): Verdict {
  Object.freeze(v.policies);
  if (v.type === "mask") Object.freeze(v.ruleSets);
  if (v.type === "hold") {
    Object.freeze(v.requirement.approverGroups);
    Object.freeze(v.requirement);
    Object.freeze(v.maskRuleSets);
  }
  return Object.freeze(v);
}

function textLength(input: CedarRequest): number {
  const text: unknown = input.context.request.text;
  return typeof text === "string" ? text.length : 0;
}
