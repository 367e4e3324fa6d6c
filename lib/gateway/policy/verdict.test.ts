import { describe, expect, it } from "vitest";
import { combineVerdict, DENY_REASONS, type CombineInput, type EvaluationResult, type PolicyInfo } from "./verdict";

const POLICIES = new Map<string, PolicyInfo>([
  ["policy0", { id: "plain", effect: "permit" }],
  ["policy1", { id: "hold-ops", effect: "permit", hold: { approverGroups: ["ops"], minApprovals: 1 } }],
  ["policy2", { id: "hold-dba", effect: "permit", hold: { approverGroups: ["dba", "ops"], minApprovals: 2 } }],
  ["policy3", { id: "mask-pii", effect: "permit", maskRuleSets: ["pii"] }],
  ["policy4", { id: "mask-cards", effect: "permit", maskRuleSets: ["cards", "pii"] }],
  ["policy5", { id: "mask-all", effect: "permit", maskRuleSets: ["*"] }],
  ["policy6", { id: "no-prod", effect: "forbid", reason: "prod is closed" }],
  ["policy7", { id: "no-night", effect: "forbid", reason: "not at night" }],
  ["policy8", { id: "silent-forbid", effect: "forbid" }],
  ["policy9", { id: "hold-nobody", effect: "permit", hold: { approverGroups: [], minApprovals: 1 } }],
]);

function decided(decision: "allow" | "deny", determining: string[], extra: Partial<EvaluationResult> = {}): EvaluationResult {
  return { status: "decided", decision, determining, errors: [], elapsedMs: 0.05, ...extra } as EvaluationResult;
}

function combine(result: EvaluationResult, over: Partial<CombineInput> = {}) {
  return combineVerdict({
    action: "write",
    connection: "orders-db",
    kind: "write",
    result,
    policies: POLICIES,
    timeoutMs: 10,
    ...over,
  });
}

describe("combineVerdict: deny paths (fail closed)", () => {
  it("denies an unclassified request even when Cedar allowed it", () => {
    expect(combine(decided("allow", ["policy0"]), { kind: undefined })).toEqual({
      type: "deny",
      reason: DENY_REASONS.unclassified,
      policies: [],
    });
    expect(combine(decided("allow", ["policy0"]), { kind: "select" }).type).toBe("deny");
    expect(combine({ status: "skipped" }).type).toBe("deny");
  });

  it("passes a refusal reason through", () => {
    expect(combine({ status: "refused", reason: "credential scope does not include action write" })).toEqual({
      type: "deny",
      reason: "credential scope does not include action write",
      policies: [],
    });
  });

  it("denies when evaluation failed, without leaking the internal message", () => {
    const v = combine({ status: "failed", message: "while parsing context: secret detail", elapsedMs: 1 });
    expect(v).toEqual({ type: "deny", reason: DENY_REASONS.failed, policies: [] });
  });

  it("denies an allow that took longer than the budget, and a NaN duration", () => {
    expect(combine(decided("allow", ["policy0"], { elapsedMs: 10.5 }))).toMatchObject({ type: "deny", reason: DENY_REASONS.timeout });
    expect(combine(decided("allow", ["policy0"], { elapsedMs: Number.NaN })).type).toBe("deny");
    expect(combine(decided("allow", ["policy0"], { elapsedMs: 10 })).type).toBe("allow");
  });

  it("denies when any policy errored, even if a permit matched, naming the erroring policies", () => {
    const v = combine(decided("allow", ["policy0"], { errors: [{ policyId: "policy6", message: "overflow" }] }));
    expect(v).toEqual({ type: "deny", reason: DENY_REASONS.error, policies: ["no-prod"] });
  });

  it("denies when Cedar names a policy the engine does not know", () => {
    expect(combine(decided("allow", ["policy0", "policy99"]))).toMatchObject({ type: "deny", reason: DENY_REASONS.unknownPolicy });
  });

  it("default deny: no permit matched", () => {
    expect(combine(decided("deny", []))).toEqual({
      type: "deny",
      reason: "no policy permits write on orders-db",
      policies: [],
    });
  });

  it("forbid: joins the reasons of every matching forbid, with a fallback for forbids without @reason", () => {
    expect(combine(decided("deny", ["policy7", "policy6"]))).toEqual({
      type: "deny",
      reason: "prod is closed; not at night",
      policies: ["no-prod", "no-night"],
    });
    expect(combine(decided("deny", ["policy8"]))).toEqual({
      type: "deny",
      reason: "forbidden by policy silent-forbid",
      policies: ["silent-forbid"],
    });
  });

  it("an Allow without any permit, or naming a forbid, is treated as deny", () => {
    expect(combine(decided("allow", [])).type).toBe("deny");
    expect(combine(decided("allow", ["policy0", "policy6"])).type).toBe("deny");
  });

  it("a hold with no approver group can never be approved, so it is a deny", () => {
    expect(combine(decided("allow", ["policy9"]))).toMatchObject({ type: "deny", reason: DENY_REASONS.holdWithoutApprovers });
  });
});

describe("combineVerdict: allow, mask, hold", () => {
  it("allow lists the determining permits in source order", () => {
    expect(combine(decided("allow", ["policy0"]))).toEqual({ type: "allow", policies: ["plain"] });
  });

  it("mask unions rule sets of all determining permits", () => {
    expect(combine(decided("allow", ["policy4", "policy3", "policy0"]))).toEqual({
      type: "mask",
      ruleSets: ["cards", "pii"],
      policies: ["plain", "mask-pii", "mask-cards"],
    });
  });

  it('"*" absorbs named rule sets', () => {
    expect(combine(decided("allow", ["policy3", "policy5"]))).toMatchObject({ type: "mask", ruleSets: ["*"] });
  });

  it("hold beats mask and allow; groups are unioned, approvals take the maximum, masks ride along", () => {
    expect(combine(decided("allow", ["policy0", "policy1", "policy2", "policy3"]))).toEqual({
      type: "hold",
      requirement: { approverGroups: ["dba", "ops"], minApprovals: 2 },
      maskRuleSets: ["pii"],
      policies: ["plain", "hold-ops", "hold-dba", "mask-pii"],
    });
  });

  it("a single hold keeps its own requirement and an empty mask list", () => {
    expect(combine(decided("allow", ["policy1"]))).toEqual({
      type: "hold",
      requirement: { approverGroups: ["ops"], minApprovals: 1 },
      maskRuleSets: [],
      policies: ["hold-ops"],
    });
  });

  it("forbid beats hold: Cedar says deny, obligations of matching permits are irrelevant", () => {
    expect(combine(decided("deny", ["policy6"]))).toMatchObject({ type: "deny", reason: "prod is closed" });
  });
});
