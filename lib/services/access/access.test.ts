import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { ZodError } from "zod";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { activeGrantsOf, getApproval, listApprovals } from "@/db/queries/approvals";
import { approvalRequests, auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { decideApproval } from "../approvals/decide";
import { expireOverdue } from "../approvals/expire";
import { revokeApproval } from "../approvals/revoke";
import { approvalsFixture, principalOf, type ApprovalsFixture } from "../approvals/test-fixtures";
import { revokeGrant } from "./grants";
import { requestAccess } from "./request";

/** Just-in-time access: request → approve → grant (feeds `grants.active`) → revoke or expire. */
let fx: ApprovalsFixture;
beforeAll(async () => {
  fx = await approvalsFixture();
});
afterAll(async () => {
  await fx?.handle.close();
});
afterEach(() => {
  delete process.env.GATEHOUSE_ACCESS_APPROVERS;
});

const ask = (caller: Caller, extra: Record<string, unknown> = {}) => requestAccess(fx.db, caller, { connection: "billing-db", durationSeconds: 3600, reason: "INC-42 refund", ...extra });

describe("just-in-time access", () => {
  it("approval creates a grant for the requested duration; activeGrantsOf sees it until revoked", async () => {
    const alice = fx.people.alice;
    const asked = await ask(alice.caller);
    expect(asked).toMatchObject({ status: "pending", approval: { kind: "access", requester: alice.email, connection: "billing-db", approverGroups: ["approvers"], minApprovals: 1, durationSeconds: 3600, reason: "INC-42 refund" } });
    expect(await activeGrantsOf(fx.db, alice.id, fx.conn.id, [])).toEqual([]);
    const t0 = Date.now();
    const decided = await decideApproval(fx.db, fx.people.bob.caller, asked.approval.id, { decision: "approve" });
    expect(decided.grant).not.toBeNull();
    expect(decided.grant!.expiresAt.getTime()).toBeGreaterThanOrEqual(t0 + 3600_000 - 1000);
    expect(decided.grant!.expiresAt.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);
    const active = await activeGrantsOf(fx.db, alice.id, fx.conn.id, []);
    expect(active).toEqual([{ id: decided.grant!.id, connectionId: fx.conn.id, expiresAt: decided.grant!.expiresAt }]);
    // not on another connection, not for another user
    expect(await activeGrantsOf(fx.db, alice.id, fx.otherConn.id, [])).toEqual([]);
    expect(await activeGrantsOf(fx.db, fx.people.dave.id, fx.conn.id, [])).toEqual([]);

    await expect(revokeGrant(fx.db, alice.caller, decided.grant!.id)).rejects.toMatchObject({ code: "FORBIDDEN" });
    await revokeGrant(fx.db, fx.people.admin.caller, decided.grant!.id);
    expect(await activeGrantsOf(fx.db, alice.id, fx.conn.id, [])).toEqual([]);
    await expect(revokeGrant(fx.db, fx.people.admin.caller, decided.grant!.id)).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(revokeGrant(fx.db, fx.people.admin.caller, "not-a-uuid")).rejects.toMatchObject({ code: "NOT_FOUND" });
    const audit = await fx.db.select({ action: auditLog.action }).from(auditLog).where(eq(auditLog.subject, `grant:${decided.grant!.id}`));
    expect(audit.map((a) => a.action)).toEqual(["grant.create", "grant.revoke"]);
  });

  it("an expired grant is not active", async () => {
    const asked = await ask(fx.people.alice.caller, { connection: "other-db", durationSeconds: 60 });
    const { grant } = await decideApproval(fx.db, fx.people.carol.caller, asked.approval.id, { decision: "approve" });
    expect(await activeGrantsOf(fx.db, fx.people.alice.id, fx.otherConn.id, [])).toHaveLength(1);
    const { accessGrants } = await import("@/db/schema");
    await fx.db.update(accessGrants).set({ expiresAt: new Date(Date.now() - 1) }).where(eq(accessGrants.id, grant!.id));
    expect(await activeGrantsOf(fx.db, fx.people.alice.id, fx.otherConn.id, [])).toEqual([]);
  });

  it("a denied request creates no grant; revoking an approved access request revokes its grant", async () => {
    const denied = await ask(fx.people.alice.caller);
    expect((await decideApproval(fx.db, fx.people.bob.caller, denied.approval.id, { decision: "deny", reason: "no" })).grant).toBeNull();
    const approved = await ask(fx.people.dave.caller);
    const { grant } = await decideApproval(fx.db, fx.people.bob.caller, approved.approval.id, { decision: "approve" });
    expect(await activeGrantsOf(fx.db, fx.people.dave.id, fx.conn.id, [])).toHaveLength(1);
    await revokeApproval(fx.db, fx.people.adminApprover.caller, approved.approval.id, {});
    expect(await activeGrantsOf(fx.db, fx.people.dave.id, fx.conn.id, [])).toEqual([]);
    expect((await getApproval(fx.db, approved.approval.id))!.grant).toMatchObject({ id: grant!.id, revokedAt: expect.any(Date) });
  });

  it("the requester cannot approve their own access request, nor give it a time window", async () => {
    const asked = await ask(fx.people.carol.caller);
    await expect(decideApproval(fx.db, fx.people.carol.caller, asked.approval.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(decideApproval(fx.db, fx.people.bob.caller, asked.approval.id, { decision: "approve", windowSeconds: 60 })).rejects.toMatchObject({ code: "INVALID" });
  });

  it("approvers come from GATEHOUSE_ACCESS_APPROVERS", async () => {
    process.env.GATEHOUSE_ACCESS_APPROVERS = "dba, ";
    const asked = await ask(fx.people.alice.caller);
    expect(asked.approval.approverGroups).toEqual(["dba"]);
    await expect(decideApproval(fx.db, fx.people.bob.caller, asked.approval.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(decideApproval(fx.db, fx.people.dave.caller, asked.approval.id, { decision: "approve" })).resolves.toMatchObject({ approval: { status: "approved" } });
  });

  it("validates input: duration ≤ 24 h, a reason ≤ 2000 chars, a known connection", async () => {
    await expect(ask(fx.people.alice.caller, { durationSeconds: 24 * 3600 + 1 })).rejects.toBeInstanceOf(ZodError);
    await expect(ask(fx.people.alice.caller, { reason: "x".repeat(2001) })).rejects.toBeInstanceOf(ZodError);
    await expect(ask(fx.people.alice.caller, { reason: "   " })).rejects.toBeInstanceOf(ZodError);
    await expect(ask(fx.people.alice.caller, { connection: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("an agent asks in its chain, inside its token scope only; its human cannot approve it", async () => {
    const bare = principalOf(fx.people.carol, ["claude"]);
    // a delegated chain whose grant could not be bound to its agent (no token): refused
    await expect(ask({ ...fx.people.carol.caller, via: "token", principal: bare }, { connection: "other-db" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    const principal = { ...bare, chain: bare.chain.map((a, i) => (i === 1 ? { ...a, tokenId: randomUUID() } : a)), scopeConnections: ["other-db"] };
    const agent: Caller = { ...fx.people.carol.caller, via: "token", principal };
    await expect(ask(agent)).rejects.toMatchObject({ code: "FORBIDDEN" });
    const asked = await ask(agent, { connection: "other-db" });
    expect(asked.approval.chain.map((a) => a.name)).toEqual([fx.people.carol.email, "claude"]);
    await expect(decideApproval(fx.db, fx.people.carol.caller, asked.approval.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("wait long-polls the decision and returns the grant", async () => {
    const waiting = ask(fx.people.alice.caller, { wait: 10, reason: "wait please" });
    let id: number | undefined;
    for (let i = 0; i < 100 && !id; i++) {
      const [row] = await listApprovals(fx.db, { status: "pending", requesterId: fx.people.alice.id, limit: 1 });
      if (row?.reason === "wait please") id = row.id;
      else await new Promise((r) => setTimeout(r, 20));
    }
    const t0 = Date.now();
    await decideApproval(fx.db, fx.people.bob.caller, id!, { decision: "approve" });
    const res = await waiting;
    // answered by the decision, not at the end of the 10 s wait
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(res).toMatchObject({ status: "approved", approval: { id }, grant: expect.objectContaining({ connectionId: fx.conn.id }) });
  });

  it("mineToDecide lists what this approver may still decide, never their own or their chain's", async () => {
    await expireOverdue(fx.db);
    const mine = await ask(fx.people.bob.caller, { reason: "bob's own" });
    const others = await ask(fx.people.alice.caller, { reason: "alice's" });
    const list = await listApprovals(fx.db, { status: "pending", mineToDecide: { userId: fx.people.bob.id, groups: ["approvers"] } });
    expect(list.map((r) => r.id)).toContain(others.approval.id);
    expect(list.map((r) => r.id)).not.toContain(mine.approval.id);
    await decideApproval(fx.db, fx.people.carol.caller, mine.approval.id, { decision: "deny" });
    const none = await listApprovals(fx.db, { status: "pending", mineToDecide: { userId: fx.people.dave.id, groups: ["dba"] } });
    expect(none.map((r) => r.id)).not.toContain(others.approval.id);
  });

  it("one requester cannot flood the queue: at most 25 pending requests", async () => {
    const flooder = fx.people.mallory.caller;
    const results = [];
    for (let i = 0; i < 27; i++) results.push(await ask(flooder, { reason: `flood ${i}` }).then(() => "ok", (e) => e.code));
    expect(results.filter((r) => r === "ok")).toHaveLength(25);
    expect(results.slice(25)).toEqual(["RATE_LIMITED", "RATE_LIMITED"]);
    // overdue ones do not count: expire them and the requester may ask again
    await fx.db.update(approvalRequests).set({ expiresAt: new Date(Date.now() - 1) }).where(eq(approvalRequests.requesterId, fx.people.mallory.id));
    expect((await expireOverdue(fx.db)).length).toBeGreaterThanOrEqual(25);
    await expect(ask(flooder)).resolves.toMatchObject({ status: "pending" });
  });
});
