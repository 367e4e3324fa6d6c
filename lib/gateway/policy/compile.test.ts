import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { describe, expect, it } from "vitest";
import { compilePolicySet } from "./compile";
import { POLICY_SCHEMA } from "./schema";

describe("schema", () => {
  it("parses", () => {
    expect(cedar.checkParseSchema(POLICY_SCHEMA)).toEqual({ type: "success" });
  });
});

describe("compilePolicySet: validation against the schema", () => {
  it("accepts policies that use every part of the context and the action group", () => {
    const r = compilePolicySet(`
      permit (principal in Gatehouse::Group::"dba", action in Gatehouse::Action::"mutate", resource)
      when {
        resource.tags.contains("staging") && resource.type == "postgres" &&
        context.request.tables.contains("users") && context.request.functions.isEmpty() &&
        context.request.text like "*LIMIT*" && context.chain.depth <= 1 &&
        context.chain.rootUser like "*@example.com" && context.chain.actorKinds.contains("agent") &&
        context.chain.agentNames.contains("claude") && context.chain.actors.contains("alice") &&
        context.client.origin == "web-console" && context.client.protocol == "postgres" &&
        context.client.address like "10.*" && context.grants.active
      };
      permit (principal is Gatehouse::Agent in Gatehouse::User::"alice@example.com", action, resource)
      when { principal.name == "claude" };
      permit (principal is Gatehouse::User, action == Gatehouse::Action::"read", resource)
      when { principal.role == "auditor" && principal.email like "*@example.com" };
    `);
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.policies).toHaveLength(3);
  });

  it("rejects an unknown context attribute with line, column and the policy name", () => {
    const r = compilePolicySet(`@id("fine")\npermit (principal, action, resource);\n\n@id("typo")\npermit (principal, action, resource)\n  when { context.request.tabels.contains("x") };\n`);
    expect(r.ok).toBe(false);
    expect(r.errors).toHaveLength(1); // deduplicated across the 8 actions
    expect(r.errors[0]).toMatchObject({ severity: "error", policy: "typo", line: 6, column: 10 });
    expect(r.errors[0]!.message).toMatch(/tabels/);
    expect(r.errors[0]!.message).not.toMatch(/Action::"/);
  });

  it("rejects attributes the principal type does not have (an Agent has no role)", () => {
    const r = compilePolicySet(`permit (principal is Gatehouse::Agent, action, resource) when { principal.role == "admin" };`);
    expect(r.ok).toBe(false);
    expect(r.errors[0]!.message).toMatch(/role/);
  });

  it("rejects type errors and unknown actions", () => {
    expect(compilePolicySet(`permit (principal, action, resource) when { context.chain.depth == "2" };`).ok).toBe(false);
    expect(compilePolicySet(`permit (principal, action == Gatehouse::Action::"delete", resource);`).ok).toBe(false);
  });

  it("reports syntax errors with a line number that counts non-ASCII text correctly", () => {
    const r = compilePolicySet(`// Zugriff für Agenten 🤖\npermit (principal, action, resource)\n  when { context. };`);
    expect(r.ok).toBe(false);
    expect(r.errors[0]).toMatchObject({ line: 3, column: 19 });
    expect(r.errors[0]!.help).toBeTruthy();
  });

  it("rejects templates", () => {
    const r = compilePolicySet(`permit (principal == ?principal, action, resource);`);
    expect(r.ok).toBe(false);
    expect(r.errors[0]!.message).toMatch(/templates/);
  });

  it("accepts an empty policy set (which then denies everything)", () => {
    expect(compilePolicySet("// nothing yet\n").ok).toBe(true);
  });
});

describe("compilePolicySet: annotations", () => {
  const errorsOf = (text: string) => compilePolicySet(text).errors.map((e) => e.message);

  it("reads obligations and names policies by @id", () => {
    const r = compilePolicySet(`
      @id("prod-writes") @hold("dba, ops ,dba") @approvals("2") @mask("pii,cards")
      permit (principal, action, resource);
      @reason("closed")
      forbid (principal, action, resource) when { context.chain.depth > 9 };
    `);
    expect(r.ok).toBe(true);
    expect(r.policies[0]).toMatchObject({
      id: "prod-writes",
      cedarId: "policy0",
      effect: "permit",
      hold: { approverGroups: ["dba", "ops"], minApprovals: 2 },
      maskRuleSets: ["pii", "cards"],
      line: 2,
    });
    expect(r.policies[1]).toMatchObject({ id: "policy1", effect: "forbid", reason: "closed", line: 4 });
  });

  it("rejects misplaced and malformed obligations", () => {
    expect(errorsOf(`@hold("ops") forbid (principal, action, resource);`)).toEqual(["@hold is only meaningful on a permit"]);
    expect(errorsOf(`@mask("pii") forbid (principal, action, resource);`)).toEqual(["@mask is only meaningful on a permit"]);
    expect(errorsOf(`@reason("x") permit (principal, action, resource);`)).toEqual(["@reason is only meaningful on a forbid"]);
    expect(errorsOf(`@approvals("2") permit (principal, action, resource);`)).toEqual(["@approvals needs @hold on the same policy"]);
    expect(errorsOf(`@hold("ops") @approvals("two") permit (principal, action, resource);`)[0]).toMatch(/whole number/);
    expect(errorsOf(`@hold("ops") @approvals("0") permit (principal, action, resource);`)[0]).toMatch(/whole number/);
    expect(errorsOf(`@hold("ops,,dba") permit (principal, action, resource);`)[0]).toMatch(/approver group/);
    expect(errorsOf(`@hold permit (principal, action, resource);`)[0]).toMatch(/non-empty/);
    expect(errorsOf(`@hold(" ") permit (principal, action, resource);`)[0]).toMatch(/non-empty/);
  });

  it("rejects duplicate ids, including an @id that collides with an unnamed policy's Cedar id", () => {
    expect(errorsOf(`@id("a") permit (principal, action, resource);\n@id("a") permit (principal, action, resource);`)[0]).toMatch(/duplicate policy id "a"/);
    expect(errorsOf(`permit (principal, action, resource);\n@id("policy0") permit (principal, action, resource);`)[0]).toMatch(/duplicate/);
  });

  it("warns about near-miss annotation names that would silently drop an obligation", () => {
    const r = compilePolicySet(`@holds("ops") permit (principal, action, resource);`);
    expect(r.ok).toBe(true);
    expect(r.warnings[0]!.message).toMatch(/@holds/);
    expect(compilePolicySet(`@description("x") permit (principal, action, resource);`).warnings).toEqual([]);
  });

  it("attaches annotations to the right policy when there are more than ten (Cedar sorts ids as strings)", () => {
    const text = Array.from({ length: 13 }, (_, i) => `@id("p${i}") @mask("set${i}")\npermit (principal, action, resource) when { context.chain.depth == ${i} };`).join("\n");
    const r = compilePolicySet(text);
    expect(r.ok).toBe(true);
    for (let i = 0; i < 13; i++) {
      expect(r.policies.find((p) => p.cedarId === `policy${i}`)).toMatchObject({ id: `p${i}`, maskRuleSets: [`set${i}`], line: 2 * i + 1 });
    }
  });
});

describe("compilePolicySet: time sensitivity", () => {
  const ts = (cond: string) => compilePolicySet(`permit (principal, action, resource) when { ${cond} };`).timeSensitivity;

  it("classifies how policies read the clock", () => {
    expect(ts(`context.chain.depth == 0`)).toBe("none");
    expect(ts(`context.time.hour >= 8 && context.time.weekday != 0`)).toBe("coarse");
    expect(ts(`context has time`)).toBe("coarse");
    expect(ts(`context.time.epoch < 1900000000`)).toBe("exact");
    expect(ts(`context["time"]["epoch"] < 1900000000`)).toBe("exact");
    expect(ts(`context.time == {hour: 1, weekday: 2, epoch: 3}`)).toBe("exact");
    expect(ts(`context == context`)).toBe("exact");
  });
});

describe("compilePolicySet: reads the statement text", () => {
  const reads = (cond: string) => compilePolicySet(`permit (principal, action, resource) when { ${cond} };`).readsRequestText;

  it("finds every way a policy can see context.request.text", () => {
    expect(reads(`context.request.kind == "read" && context.chain.depth == 0`)).toBe(false);
    expect(reads(`context.request.tables.contains("t")`)).toBe(false);
    expect(reads(`context.request.text like "*DROP*"`)).toBe(true);
    expect(reads(`context["request"]["text"] == "x"`)).toBe(true);
    expect(reads(`context.request has text`)).toBe(true);
    expect(reads(`context.request == {kind: "read", tables: [], functions: [], text: ""}`)).toBe(true);
    expect(reads(`context == context`)).toBe(true);
  });

  it("is conservative when the set does not compile", () => {
    expect(compilePolicySet(`permit (`).readsRequestText).toBe(true);
  });
});

describe("compilePolicySet: recent results", () => {
  it("answers a text it compiled lately with the same frozen result, and forgets the oldest", () => {
    const text = (n: number) => `@id("p${n}") permit (principal, action, resource);`;
    const first = compilePolicySet(text(0));
    expect(compilePolicySet(text(0))).toBe(first);
    expect(Object.isFrozen(first) && Object.isFrozen(first.policies) && Object.isFrozen(first.policies[0])).toBe(true);
    expect(() => (first.policies as unknown[]).push({})).toThrow(TypeError);
    for (let n = 1; n <= 4; n++) compilePolicySet(text(n));
    const again = compilePolicySet(text(0));
    expect(again).not.toBe(first);
    expect(again).toEqual(first);
  });
});
