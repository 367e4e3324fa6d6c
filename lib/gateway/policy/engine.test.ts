import { afterEach, describe, expect, it } from "vitest";
import { GatehouseError } from "@/lib/gateway/core/types";
import { evaluationBudgetMs, PolicyEngine, type CedarEvaluator } from "./engine";
import { makeRequest } from "./test-fixtures";
import { DENY_REASONS } from "./verdict";

const engines: PolicyEngine[] = [];
function engine(text: string, options: ConstructorParameters<typeof PolicyEngine>[2] = {}) {
  const e = new PolicyEngine(text, "test", options);
  engines.push(e);
  return e;
}
afterEach(() => engines.splice(0).forEach((e) => e.dispose()));

const PERMIT_ALL = `@id("all") permit (principal, action, resource);`;

describe("PolicyEngine: construction", () => {
  it("refuses an invalid policy set with INVALID and the validation errors", () => {
    try {
      new PolicyEngine(`permit (principal, action, resource) when { context.nope };`, "bad");
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(GatehouseError);
      expect((err as GatehouseError).code).toBe("INVALID");
      expect(JSON.stringify((err as GatehouseError).detail)).toMatch(/nope/);
    }
  });
});

describe("PolicyEngine: Cedar semantics and obligations end to end", () => {
  it("default deny when nothing permits", () => {
    const v = engine(`permit (principal, action == Gatehouse::Action::"read", resource);`).decide(makeRequest({ kind: "write" }));
    expect(v).toEqual({ type: "deny", reason: "no policy permits write on orders-db", policies: [] });
  });

  it("forbid beats hold beats mask beats allow", () => {
    const text = `
      @id("allow") permit (principal, action, resource);
      @id("mask") @mask("pii") permit (principal, action, resource) when { context.request.tables.contains("users") };
      @id("hold") @hold("dba") permit (principal, action, resource) when { context.request.kind == "write" };
      @id("closed") @reason("orders are frozen") forbid (principal, action, resource) when { resource.tags.contains("frozen") };
    `;
    const e = engine(text);
    expect(e.decide(makeRequest({ kind: "read" }))).toEqual({ type: "allow", policies: ["allow"] });
    expect(e.decide(makeRequest({ kind: "read", tables: ["users"] }))).toEqual({ type: "mask", ruleSets: ["pii"], policies: ["allow", "mask"] });
    expect(e.decide(makeRequest({ kind: "write", tables: ["users"] }))).toEqual({
      type: "hold",
      requirement: { approverGroups: ["dba"], minApprovals: 1 },
      maskRuleSets: ["pii"],
      policies: ["allow", "mask", "hold"],
    });
    expect(e.decide(makeRequest({ kind: "write", tables: ["users"], tags: ["frozen"] }))).toEqual({
      type: "deny",
      reason: "orders are frozen",
      policies: ["closed"],
    });
  });

  it("agents are in their user's groups through the chain; `is` tells them apart", () => {
    const e = engine(`
      @id("dba") permit (principal in Gatehouse::Group::"dba", action, resource);
      @id("humans") @hold("ops") permit (principal is Gatehouse::User, action, resource);
      @id("alice-claude") @mask("*") permit (principal is Gatehouse::Agent in Gatehouse::User::"alice@example.com", action, resource)
        when { principal.name == "claude" && context.chain.agentNames.contains("claude") };
    `);
    expect(e.decide(makeRequest({ groups: ["dba"], depth: 2 }))).toEqual({ type: "allow", policies: ["dba"] });
    expect(e.decide(makeRequest({ groups: ["eng"], depth: 2, agentNames: ["planner", "claude"] }))).toEqual({
      type: "mask",
      ruleSets: ["*"],
      policies: ["alice-claude"],
    });
    expect(e.decide(makeRequest({ groups: ["eng"], depth: 0 })).type).toBe("hold");
    expect(e.decide(makeRequest({ groups: ["eng"], depth: 1 })).type).toBe("deny");
  });

  it("two live engines with the same version string keep their own policies", () => {
    // Cedar's preparsed store is process-wide; the console can compile a draft while the
    // gateway enforces the active set, and Next may load a second copy of this module.
    const a = engine(`@id("a") permit (principal, action, resource);`);
    const b = engine(`@id("b") forbid (principal, action, resource);`);
    expect(a.decide(makeRequest())).toEqual({ type: "allow", policies: ["a"] });
    expect(b.decide(makeRequest())).toMatchObject({ type: "deny", policies: ["b"] });
  });

  it("a sub-agent with the same name as its parent is not a cycle", () => {
    const e = engine(PERMIT_ALL);
    expect(e.decide(makeRequest({ depth: 3, agentNames: ["claude", "claude", "claude"] })).type).toBe("allow");
  });
});

describe("PolicyEngine: fail closed", () => {
  it("denies when a policy errors at evaluation, even though another permit matched", () => {
    // Validates (strict mode does not check arithmetic) but overflows at depth >= 2.
    const e = engine(`${PERMIT_ALL}\n@id("overflow") forbid (principal, action, resource) when { context.chain.depth * 9223372036854775807 > 0 };`);
    expect(e.decide(makeRequest({ depth: 0 })).type).toBe("allow");
    const ev = e.evaluate(makeRequest({ depth: 2 }));
    expect(ev.verdict).toEqual({ type: "deny", reason: DENY_REASONS.error, policies: ["overflow"] });
    expect(ev.cacheable).toBe(false);
  });

  it("denies when the evaluator throws or answers failure", () => {
    const throwing: CedarEvaluator = { statefulIsAuthorized: () => { throw new Error("wasm trap"); } };
    expect(engine(PERMIT_ALL, { cedar: throwing }).decide(makeRequest())).toEqual({ type: "deny", reason: DENY_REASONS.failed, policies: [] });
    const failing: CedarEvaluator = { statefulIsAuthorized: () => ({ type: "failure", errors: [{ message: "bad context", help: null, code: null, url: null, severity: null }], warnings: [] }) };
    expect(engine(PERMIT_ALL, { cedar: failing }).decide(makeRequest()).type).toBe("deny");
  });

  it("denies when the context does not match the schema (a gateway bug must not evaluate half a context)", () => {
    const req = makeRequest();
    (req.request as { tables: unknown }).tables = [42];
    expect(engine(PERMIT_ALL).decide(req).type).toBe("deny");
  });

  it("denies an evaluation that took longer than the budget (injected clock)", () => {
    let t = 0;
    const slowClock = () => (t += 250);
    const v = engine(PERMIT_ALL, { clock: slowClock, timeoutMs: 100 }).evaluate(makeRequest());
    expect(v.verdict).toEqual({ type: "deny", reason: DENY_REASONS.timeout, policies: [] });
    expect(v.cacheable).toBe(false);
  });

  it("re-evaluates once after a single slow evaluation (a GC pause is not a pathological policy)", () => {
    let t = 0;
    let steps: number[] = [];
    const clock = () => (t += steps.shift() ?? 0.01);
    const e = engine(PERMIT_ALL, { clock, timeoutMs: 100 });
    steps = [0, 500]; // the next evaluation measures 500 ms, the one after it 0.01 ms
    expect(e.decide(makeRequest()).type).toBe("allow");
    steps = [0, 500, 0, 500]; // slow twice in a row: deny
    expect(e.decide(makeRequest()).type).toBe("deny");
  });

  it("grows the budget with the request text, up to a cap (a huge statement is slow to hand to Cedar)", () => {
    let t = 0;
    let step = 0;
    const clock = () => (t += step);
    const e = engine(PERMIT_ALL, { clock, timeoutMs: 100 });
    const withText = (chars: number) => {
      const req = makeRequest();
      req.request.text = "x".repeat(chars);
      return req;
    };
    step = 200;
    expect(e.decide(withText(100))).toMatchObject({ type: "deny", reason: DENY_REASONS.timeout });
    expect(e.decide(withText(512 * 1024)).type).toBe("allow"); // 100 + 256 ms
    step = 357;
    expect(e.decide(withText(512 * 1024))).toMatchObject({ type: "deny", reason: DENY_REASONS.timeout });
    step = 999;
    expect(e.decide(withText(2 * 1024 * 1024)).type).toBe("allow");
    step = 1001; // the allowance is capped: no text buys more than a second
    expect(e.decide(withText(2 * 1024 * 1024))).toMatchObject({ type: "deny", reason: DENY_REASONS.timeout });
    expect(evaluationBudgetMs(100, 1023)).toBe(100);
    expect(evaluationBudgetMs(100, 10 * 1024)).toBe(105);
  });

  it("denies with a real measured timeout when the budget is zero", () => {
    expect(engine(PERMIT_ALL, { timeoutMs: 0 }).decide(makeRequest())).toMatchObject({ type: "deny", reason: DENY_REASONS.timeout });
  });

  it("warms the evaluator at construction, so the first real request does not pay wasm compilation", () => {
    let calls = 0;
    const counting: CedarEvaluator = { statefulIsAuthorized: () => { calls++; throw new Error("not a real evaluator"); } };
    engine(PERMIT_ALL, { cedar: counting });
    expect(calls).toBe(1);
  });

  it("denies an unclassified request without calling Cedar", () => {
    let calls = 0;
    const counting: CedarEvaluator = { statefulIsAuthorized: () => { calls++; throw new Error("unreachable"); } };
    const req = makeRequest();
    delete (req.request as { kind?: unknown }).kind;
    const e = engine(PERMIT_ALL, { cedar: counting });
    calls = 0; // the constructor's warm-up call
    expect(e.decide(req)).toMatchObject({ type: "deny", reason: DENY_REASONS.unclassified });
    expect(calls).toBe(0);
  });

  it("treats an `unknown` kind as context, not as a failure", () => {
    const e = engine(`@id("u") @hold("ops") permit (principal, action, resource) when { context.request.kind == "unknown" };`);
    expect(e.decide(makeRequest({ kind: "unknown" })).type).toBe("hold");
  });

  it("enforces the credential's own scope whatever the policies say", () => {
    const e = engine(PERMIT_ALL);
    expect(e.decide(makeRequest({ scopeConnections: ["other-db"] }))).toMatchObject({
      type: "deny",
      reason: "credential scope does not include connection orders-db",
    });
    expect(e.decide(makeRequest({ kind: "write", scopeActions: ["connect", "read"] })).type).toBe("deny");
    expect(e.decide(makeRequest({ scopeActions: [] })).type).toBe("deny");
    expect(e.decide(makeRequest({ scopeConnections: ["orders-db"], scopeActions: ["read"] })).type).toBe("allow");
  });

  it("denies malformed requests: empty chain, unknown action, missing parts", () => {
    const e = engine(PERMIT_ALL);
    const noChain = makeRequest();
    noChain.principal.chain = [];
    expect(e.decide(noChain)).toMatchObject({ type: "deny", reason: "principal has no actor chain" });
    const badAction = makeRequest();
    (badAction.request as { action: string }).action = "drop";
    expect(e.decide(badAction).type).toBe("deny");
    const noPrincipal = makeRequest() as unknown as Record<string, unknown>;
    delete noPrincipal.principal;
    expect(e.decide(noPrincipal as never).type).toBe("deny");
    expect(e.decide(undefined as never).type).toBe("deny");
  });

  it("denies everything after dispose", () => {
    const e = engine(PERMIT_ALL);
    expect(e.decide(makeRequest()).type).toBe("allow");
    e.dispose();
    expect(e.decide(makeRequest())).toMatchObject({ type: "deny", reason: DENY_REASONS.failed });
  });

  it("returns frozen verdicts", () => {
    const v = engine(PERMIT_ALL).decide(makeRequest());
    expect(Object.isFrozen(v) && Object.isFrozen(v.policies)).toBe(true);
  });
});
