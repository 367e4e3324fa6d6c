/**
 * `combineVerdict`: the one place where a Cedar answer plus policy annotations becomes a Gatehouse
 * `Verdict`. Pure (no Cedar, no clock) so every branch is unit-tested. The rules, in the order
 * they are checked (first match wins), are the table in README.md:
 *
 *   1. request not classified (kind missing/invalid)       -> deny
 *   2. refused before evaluation (bad chain, token scope)  -> deny
 *   3. evaluation failed (threw, Cedar "failure" answer)   -> deny
 *   4. evaluation took longer than the budget              -> deny
 *   5. any policy errored during evaluation                -> deny (Cedar skips an erroring policy,
 *      which for a forbid would mean "fail open"; we never accept that)
 *   6. Cedar Deny: reasons of the matching forbids, or "no policy permits ..."
 *   7. Cedar Allow: any determining @hold -> hold; else any @mask -> mask; else allow.
 *      Obligations of all determining permits are unioned.
 */
import type { HoldRequirement, Verdict } from "@/lib/gateway/core/types";
import { isRequestKind } from "./schema";

/** What the engine knows about one policy, from its annotations (see annotations.ts). */
export interface PolicyInfo {
  /** @id annotation, or Cedar's own id ("policy0", ...) */
  id: string;
  effect: "permit" | "forbid";
  hold?: HoldRequirement;
  maskRuleSets?: string[];
  reason?: string;
}

export interface PolicyEvaluationError {
  /** Cedar's policy id */
  policyId: string;
  message: string;
}

export type EvaluationResult =
  | {
      status: "decided";
      decision: "allow" | "deny";
      /** Cedar's ids of the determining policies (diagnostics.reason) */
      determining: string[];
      errors: PolicyEvaluationError[];
      elapsedMs: number;
    }
  /** the evaluator threw or answered "failure" (e.g. the context did not match the schema) */
  | { status: "failed"; message: string; elapsedMs: number }
  /** the engine refused before calling Cedar (malformed principal, token scope) */
  | { status: "refused"; reason: string }
  /** Cedar was not called because the request is not classified */
  | { status: "skipped" };

export interface CombineInput {
  action: string;
  connection: string;
  kind: string | undefined;
  result: EvaluationResult;
  /** keyed by Cedar's policy id */
  policies: ReadonlyMap<string, PolicyInfo>;
  timeoutMs: number;
}

export const DENY_REASONS = {
  unclassified: "request is not classified",
  failed: "policy evaluation failed",
  timeout: "policy evaluation timed out",
  error: "policy evaluation error",
  unknownPolicy: "policy evaluation returned an unknown policy",
  holdWithoutApprovers: "hold policy names no approver group",
} as const;

const deny = (reason: string, policies: string[] = []): Verdict => ({ type: "deny", reason, policies });

/**
 * Whether an approval given under requirement `given` covers requirement `needed` (a policy may
 * have changed since): every group it could be approved by must still be an approver group, and
 * it needed at least as many approvals. A looser or equal requirement is covered, a stricter not.
 */
export function approvalSatisfies(given: HoldRequirement, needed: HoldRequirement): boolean {
  return given.minApprovals >= needed.minApprovals && given.approverGroups.every((g) => needed.approverGroups.includes(g));
}

/** The masking rule sets a verdict applies (a held request's apply once it is approved). */
export function maskingOf(verdict: Verdict | null): readonly string[] {
  return verdict?.type === "mask" ? verdict.ruleSets : verdict?.type === "hold" ? verdict.maskRuleSets : [];
}

export function combineVerdict(input: CombineInput): Verdict {
  const { result, policies } = input;
  if (!isRequestKind(input.kind)) return deny(DENY_REASONS.unclassified);
  if (result.status === "skipped") return deny(DENY_REASONS.unclassified);
  if (result.status === "refused") return deny(result.reason);
  if (result.status === "failed") return deny(DENY_REASONS.failed);
  // Measured, not pre-empted: Cedar runs synchronously, so a slow evaluation is discarded after
  // the fact rather than trusted (a slow answer hints at a pathological policy or a sick process).
  if (!(result.elapsedMs <= input.timeoutMs)) return deny(DENY_REASONS.timeout);
  if (result.errors.length > 0) {
    const ids = unique(result.errors.map((e) => policies.get(e.policyId)?.id ?? e.policyId));
    return deny(DENY_REASONS.error, ids);
  }

  if (result.determining.some((cedarId) => !policies.has(cedarId))) return deny(DENY_REASONS.unknownPolicy);
  // Cedar reports determining policies in hash order; list them in source order (the map's
  // order) so a verdict reads the same every time.
  const matched = new Set(result.determining);
  const determining = [...policies].filter(([cedarId]) => matched.has(cedarId)).map(([, info]) => info);

  if (result.decision === "deny") {
    const forbids = determining.filter((p) => p.effect === "forbid");
    if (forbids.length === 0) {
      return deny(`no policy permits ${input.action} on ${input.connection}`);
    }
    const reasons = unique(forbids.map((p) => p.reason ?? `forbidden by policy ${p.id}`));
    return deny(reasons.join("; "), forbids.map((p) => p.id));
  }

  // Cedar only answers Allow with at least one satisfied permit; if that ever breaks, fail closed.
  const permits = determining.filter((p) => p.effect === "permit");
  if (permits.length === 0 || permits.length !== determining.length) {
    return deny(`no policy permits ${input.action} on ${input.connection}`);
  }
  const ids = permits.map((p) => p.id);
  const maskRuleSets = unionRuleSets(permits.flatMap((p) => p.maskRuleSets ?? []));
  const holds = permits.flatMap((p) => (p.hold ? [p.hold] : []));

  if (holds.length > 0) {
    const approverGroups = unique(holds.flatMap((h) => h.approverGroups)).sort();
    if (approverGroups.length === 0) return deny(DENY_REASONS.holdWithoutApprovers, ids);
    const minApprovals = Math.max(...holds.map((h) => h.minApprovals));
    return { type: "hold", requirement: { approverGroups, minApprovals }, maskRuleSets, policies: ids };
  }
  if (maskRuleSets.length > 0) return { type: "mask", ruleSets: maskRuleSets, policies: ids };
  return { type: "allow", policies: ids };
}

/** "*" (every enabled rule) absorbs named rule sets: masking more is the safe direction. */
function unionRuleSets(names: string[]): string[] {
  const all = unique(names).sort();
  return all.includes("*") ? ["*"] : all;
}

function unique<T>(values: T[]): T[] {
  return [...new Set(values)];
}
