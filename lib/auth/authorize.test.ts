import { describe, expect, it } from "vitest";
import { can } from "./authorize";
import type { Caller } from "./caller";

const caller = (role: Caller["role"], extra: Partial<Caller> = {}): Caller => ({ userId: "u1", email: "u@x", role, groups: [], via: "session", ...extra });

describe("authorize", () => {
  it("denies anonymous callers everything", () => {
    expect(can(null, "connections:read")).toBe(false);
  });
  it("members cannot administer", () => {
    expect(can(caller("member"), "connections:write")).toBe(false);
    expect(can(caller("member"), "users:write")).toBe(false);
    expect(can(caller("member"), "audit:read")).toBe(false);
    expect(can(caller("member"), "approvals:decide")).toBe(false);
  });
  it("own-object permissions check the owner", () => {
    expect(can(caller("member"), "tokens:own", { ownerId: "u1" })).toBe(true);
    expect(can(caller("member"), "tokens:own", { ownerId: "someone-else" })).toBe(false);
    expect(can(caller("admin"), "tokens:own", { ownerId: "someone-else" })).toBe(true);
    expect(can(caller("auditor"), "sessions:read-own", { ownerId: "someone-else" })).toBe(true);
    expect(can(caller("member"), "sessions:read-own", { ownerId: "someone-else" })).toBe(false);
  });
  it("a delegated agent token of an admin cannot administer the console", () => {
    const agent = caller("admin", {
      via: "token",
      principal: { userId: "u1", email: "u@x", role: "admin", groups: [], tokenId: "t2", scopeConnections: ["*"], scopeActions: ["*"], chain: [{ kind: "user", id: "u1", name: "u@x" }, { kind: "agent", id: "a", name: "bot" }] },
    });
    expect(can(agent, "connections:write")).toBe(false);
    expect(can(agent, "users:write")).toBe(false);
    expect(can(agent, "approvals:decide")).toBe(false);
    expect(can(agent, "connections:read")).toBe(true);
  });
});

describe("narrowed tokens", () => {
  const token = (scopeConnections: string[], scopeActions: string[]) =>
    caller("admin", { via: "token", principal: { userId: "u1", email: "u@x", role: "admin", groups: [], tokenId: "t3", scopeConnections, scopeActions, chain: [{ kind: "user", id: "u1", name: "u@x" }] } });

  it("an admin's token scoped to some connections or actions reaches them, and administers nothing", () => {
    for (const t of [token(["orders-db"], ["*"]), token(["*"], ["read"])]) {
      expect(can(t, "gateway:use")).toBe(true);
      expect(can(t, "connections:read")).toBe(true);
      expect(can(t, "approvals:request")).toBe(true);
      expect(can(t, "approvals:decide")).toBe(false);
      expect(can(t, "policies:write")).toBe(false);
      expect(can(t, "users:write")).toBe(false);
      expect(can(t, "sessions:kill")).toBe(false);
    }
    expect(can(token(["*"], ["*"]), "approvals:decide")).toBe(true);
  });
});

describe("ssh-keys:own", () => {
  it("everyone manages their own keys; only users:write manages another user's; agents none", () => {
    for (const role of ["member", "auditor", "approver", "admin"] as const) expect(can(caller(role), "ssh-keys:own", { ownerId: "u1" })).toBe(true);
    for (const role of ["member", "auditor", "approver"] as const) expect(can(caller(role), "ssh-keys:own", { ownerId: "someone-else" })).toBe(false);
    expect(can(caller("admin"), "ssh-keys:own", { ownerId: "someone-else" })).toBe(true);
    const agent = caller("admin", {
      via: "token",
      principal: { userId: "u1", email: "u@x", role: "admin", groups: [], tokenId: "t2", scopeConnections: ["*"], scopeActions: ["*"], chain: [{ kind: "user", id: "u1", name: "u@x" }, { kind: "agent", id: "a", name: "bot" }] },
    });
    // A key added by an agent would outlive the agent's token.
    expect(can(agent, "ssh-keys:own")).toBe(false);
    expect(can(agent, "ssh-keys:own", { ownerId: "u1" })).toBe(false);
  });
});
