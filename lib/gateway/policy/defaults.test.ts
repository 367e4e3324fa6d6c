import { afterAll, describe, expect, it } from "vitest";
import type { RequestKind, Verdict } from "@/lib/gateway/core/types";
import { compilePolicySet } from "./compile";
import { DEFAULT_POLICIES } from "./defaults";
import { PolicyEngine } from "./engine";
import { makeRequest } from "./test-fixtures";

const engine = new PolicyEngine(DEFAULT_POLICIES, "defaults");
afterAll(() => engine.dispose());

type Expected = "allow" | "mask pii" | "hold 1" | "hold 1 pii" | "hold 2";
const expectedShape = (e: Expected): Partial<Verdict> => {
  switch (e) {
    case "allow":
      return { type: "allow" };
    case "mask pii":
      return { type: "mask", ruleSets: ["pii"] };
    case "hold 1":
      return { type: "hold", requirement: { approverGroups: ["approvers"], minApprovals: 1 }, maskRuleSets: [] };
    case "hold 1 pii":
      return { type: "hold", requirement: { approverGroups: ["approvers"], minApprovals: 1 }, maskRuleSets: ["pii"] };
    case "hold 2":
      return { type: "hold", requirement: { approverGroups: ["approvers"], minApprovals: 2 }, maskRuleSets: [] };
  }
};

// [kind, prod?, user, agent depth 1, agent depth 2]; unknown statements arrive with action write.
// An agent's writes are masked too (RETURNING, FOR UPDATE and nextval() bring rows back).
const MATRIX: [RequestKind, boolean, Expected, Expected, Expected][] = [
  ["read", false, "allow", "mask pii", "mask pii"],
  ["read", true, "allow", "mask pii", "mask pii"],
  ["write", false, "allow", "mask pii", "hold 1 pii"],
  ["write", true, "hold 1", "hold 1 pii", "hold 1 pii"],
  ["ddl", false, "hold 2", "hold 2", "hold 2"],
  ["ddl", true, "hold 2", "hold 2", "hold 2"],
  ["admin", false, "hold 1", "hold 1", "hold 1"],
  ["unknown", false, "hold 1", "hold 1 pii", "hold 1 pii"],
  ["unknown", true, "hold 1", "hold 1 pii", "hold 1 pii"],
];
const CASES = MATRIX.flatMap(([kind, prod, ...byDepth]) =>
  byDepth.map((expected, depth) => ({ kind, prod, depth, expected })),
);

describe("default policies", () => {
  it("validate against the schema without warnings", () => {
    const r = compilePolicySet(DEFAULT_POLICIES);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.timeSensitivity).toBe("none");
  });

  it.each(CASES)("$kind on prod=$prod at depth $depth -> $expected", ({ kind, prod, depth, expected }) => {
    const v = engine.decide(makeRequest({ kind, depth, tags: prod ? ["prod", "eu"] : ["staging"] }));
    expect(v).toMatchObject(expectedShape(expected));
  });

  it("everyone may connect, at any depth up to the limit", () => {
    for (const depth of [0, 1, 2, 3]) {
      expect(engine.decide(makeRequest({ action: "connect", kind: "read", depth, tags: ["prod"] }))).toEqual({
        type: "allow",
        policies: ["connect"],
      });
    }
  });

  it("an active access grant lifts the prod write hold for users, but not the sub-agent hold", () => {
    const grantExpiresAt = new Date("2025-03-04T11:00:00Z");
    expect(engine.decide(makeRequest({ kind: "write", tags: ["prod"], grantExpiresAt })).type).toBe("allow");
    expect(engine.decide(makeRequest({ kind: "write", tags: ["prod"], grantExpiresAt, depth: 2 })).type).toBe("hold");
    const expired = new Date("2025-03-04T10:00:00Z");
    expect(engine.decide(makeRequest({ kind: "write", tags: ["prod"], grantExpiresAt: expired })).type).toBe("hold");
  });

  it("a grant on another connection does not count", () => {
    const req = makeRequest({ kind: "write", tags: ["prod"], grantExpiresAt: new Date("2030-01-01T00:00:00Z") });
    req.grants = [{ id: "g", connectionId: "some-other-connection", expiresAt: new Date("2030-01-01T00:00:00Z") }];
    expect(engine.decide(req).type).toBe("hold");
  });

  it("refuses delegation deeper than three agents, with the forbid's reason", () => {
    expect(engine.decide(makeRequest({ depth: 4 }))).toEqual({
      type: "deny",
      reason: "delegation chains deeper than 3 agents are refused",
      policies: ["deny-deep-delegation"],
    });
  });

  it("exec is allowed, but a write-classified command on prod is held; agents' http and tool calls are masked", () => {
    expect(engine.decide(makeRequest({ action: "exec", kind: "read", tags: ["prod"] })).type).toBe("allow");
    expect(engine.decide(makeRequest({ action: "exec", kind: "write", tags: ["prod"] })).type).toBe("hold");
    expect(engine.decide(makeRequest({ action: "http", kind: "read", depth: 1 }))).toMatchObject({ type: "mask", ruleSets: ["pii"] });
    expect(engine.decide(makeRequest({ action: "tool", kind: "read", depth: 0 })).type).toBe("allow");
  });

  it("people get shells, agents' shells are held; forwarding is refused to everyone", () => {
    expect(engine.decide(makeRequest({ action: "exec", kind: "interactive", text: "shell" })).type).toBe("allow");
    expect(engine.decide(makeRequest({ action: "exec", kind: "interactive", text: "shell", depth: 1 }))).toMatchObject({ type: "hold", policies: ["agents-masked", "exec", "agent-shell-approval"], maskRuleSets: ["pii"] });
    // an agent's command output is masked like its query results
    expect(engine.decide(makeRequest({ action: "exec", kind: "read", text: "cat /etc/app.env", depth: 1 }))).toMatchObject({ type: "mask", ruleSets: ["pii"] });
    for (const depth of [0, 1, 2]) {
      expect(engine.decide(makeRequest({ action: "forward", kind: "admin", text: "local 127.0.0.1:5432", depth }))).toMatchObject({ type: "deny", reason: "no policy permits forward on orders-db" });
    }
  });

  it("a write classified as read by mistake is not a way around the action permits", () => {
    // action ddl but kind read: no permit grants action ddl without the ddl hold's kind check.
    expect(engine.decide(makeRequest({ action: "ddl", kind: "read" })).type).toBe("deny");
  });
});
