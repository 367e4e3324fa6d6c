/**
 * Public surface of the policy module. The pipeline calls `getPolicyRuntime().decide(req)`; the
 * DB/event-bus wiring calls `setPolicies(text, version)`; the console and CLI call
 * `PolicyEngine.compile(text)` before saving and `simulate(req)` for "what would happen".
 */
export { PolicyRuntime, getPolicyRuntime, type RuntimeOptions } from "./runtime";
export { PolicyEngine, DEFAULT_TIMEOUT_MS, type EngineOptions, type Evaluation, type CedarEvaluator } from "./engine";
export { compilePolicySet, type CompileResult, type CompiledPolicy, type PolicyProblem, type TimeSensitivity } from "./compile";
export { combineVerdict, DENY_REASONS, maskingOf, type CombineInput, type EvaluationResult, type PolicyInfo } from "./verdict";
export { DecisionCache, decisionCacheKey, DEFAULT_CACHE_ENTRIES } from "./cache";
export { explainVerdict, type Simulation } from "./simulate";
export { DEFAULT_POLICIES } from "./defaults";
export { POLICY_SCHEMA, POLICY_ACTIONS, REQUEST_KINDS } from "./schema";
