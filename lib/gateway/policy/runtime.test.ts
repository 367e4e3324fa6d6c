import { afterEach, describe, expect, it } from "vitest";
import type { CedarEvaluator } from "./engine";
import { DEFAULT_POLICIES } from "./defaults";
import { getPolicyRuntime, PolicyRuntime, type RuntimeOptions } from "./runtime";
import { makeRequest } from "./test-fixtures";
import { DENY_REASONS } from "./verdict";

const runtimes: PolicyRuntime[] = [];
const runtime = (options?: RuntimeOptions) => {
  const r = new PolicyRuntime(options);
  runtimes.push(r);
  return r;
};
afterEach(() => runtimes.splice(0).forEach((r) => r.setPolicies("", "teardown")));

describe("PolicyRuntime", () => {
  it("denies everything before a policy set is loaded", () => {
    const rt = runtime();
    expect(rt.version).toBeNull();
    expect(rt.decide(makeRequest())).toEqual({ type: "deny", reason: "no policy set is loaded", policies: [] });
  });

  it("installs a valid set and reports its policies", () => {
    const rt = runtime();
    const r = rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(r.ok).toBe(true);
    expect(r.policies.map((p) => p.id)).toContain("prod-write-approval");
    expect(rt.version).toBe("v1");
    expect(rt.decide(makeRequest()).type).toBe("allow");
  });

  it("an invalid new version fails closed instead of keeping the old one", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    const r = rt.setPolicies(`permit (principal, action, resource) when { context.missing };`, "v2");
    expect(r.ok).toBe(false);
    expect(r.errors[0]!.line).toBe(1);
    expect(rt.version).toBe("v2");
    expect(rt.engine).toBeNull();
    expect(rt.decide(makeRequest())).toEqual({
      type: "deny",
      reason: "policy set v2 is invalid; refusing all requests",
      policies: [],
    });
    rt.setPolicies(DEFAULT_POLICIES, "v3");
    expect(rt.decide(makeRequest()).type).toBe("allow");
  });

  it("re-applying the same version and text keeps the engine (and its warm cache)", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    const first = rt.engine;
    rt.decide(makeRequest());
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(rt.engine).toBe(first);
    expect(rt.cacheStats()!.size).toBe(1);
  });

  it("the replaced engine is disposed: a stale reference denies", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    const old = rt.engine!;
    rt.setPolicies(DEFAULT_POLICIES, "v2");
    expect(old.decide(makeRequest()).type).toBe("deny");
    expect(rt.decide(makeRequest()).type).toBe("allow");
  });

  it("a throwing evaluator is a deny, also on the cached path", () => {
    const throwing: CedarEvaluator = { statefulIsAuthorized: () => { throw new Error("boom"); } };
    const rt = runtime({ cedar: throwing });
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(rt.decide(makeRequest())).toMatchObject({ type: "deny", reason: DENY_REASONS.failed });
    expect(rt.decide(makeRequest())).toMatchObject({ type: "deny", reason: DENY_REASONS.failed });
    expect(rt.cacheStats()!.size).toBe(0);
  });

  it("decide never throws, even for garbage input", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(rt.decide(undefined as never).type).toBe("deny");
    expect(rt.decide({} as never).type).toBe("deny");
  });

  it("the cache can be switched off", () => {
    const rt = runtime({ cache: false });
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(rt.decide(makeRequest()).type).toBe("allow");
    expect(rt.cacheStats()).toBeNull();
  });

  it("getPolicyRuntime is one instance per process", () => {
    expect(getPolicyRuntime()).toBe(getPolicyRuntime());
  });
});

describe("PolicyRuntime.simulate", () => {
  it("explains a hold with the determining policies and their lines", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v7");
    const s = rt.simulate(makeRequest({ kind: "write", tags: ["prod"], depth: 2, agentNames: ["claude", "helper"] }));
    expect(s.verdict.type).toBe("hold");
    expect(s.policyVersion).toBe("v7");
    expect(s.determining.map((p) => p.id)).toEqual(["agents-masked", "write", "prod-write-approval", "deep-agent-change-approval"]);
    expect(s.determining.every((p) => p.effect === "permit" && typeof p.line === "number")).toBe(true);
    expect(s.explanation).toBe(
      "hold: write on orders-db needs 1 approval from approvers; results are masked with pii (agents-masked, write, prod-write-approval, deep-agent-change-approval)",
    );
    expect(s.errors).toEqual([]);
    expect(s.elapsedMs).toBeGreaterThanOrEqual(0);
  });

  it("shows evaluation errors by policy name", () => {
    const rt = runtime();
    rt.setPolicies(`@id("bad") permit (principal, action, resource) when { context.chain.depth * 9223372036854775807 > 0 };`, "e");
    const s = rt.simulate(makeRequest({ depth: 3 }));
    expect(s.verdict).toEqual({ type: "deny", reason: DENY_REASONS.error, policies: ["bad"] });
    expect(s.errors[0]).toMatchObject({ policy: "bad", line: 1 });
    expect(s.errors[0]!.message).toMatch(/overflow/);
    expect(s.explanation).toBe("deny: policy evaluation error (bad)");
  });

  it("explains masks and plain denies, and works before any policy is loaded", () => {
    const rt = runtime();
    expect(rt.simulate(makeRequest()).explanation).toBe("deny: no policy set is loaded");
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    expect(rt.simulate(makeRequest({ depth: 1 })).explanation).toBe(
      "mask: read on orders-db is permitted; results are masked with pii (agents-masked)",
    );
    rt.setPolicies(`permit (principal, action == Gatehouse::Action::"connect", resource);`, "v2");
    expect(rt.simulate(makeRequest()).explanation).toBe("deny: no policy permits read on orders-db");
  });

  it("never reads or fills the decision cache", () => {
    const rt = runtime();
    rt.setPolicies(DEFAULT_POLICIES, "v1");
    rt.simulate(makeRequest());
    expect(rt.cacheStats()).toMatchObject({ size: 0, hits: 0, misses: 0 });
  });
});
