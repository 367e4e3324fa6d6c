import { eq } from "drizzle-orm";
import { ZodError } from "zod";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getApproval } from "@/db/queries/approvals";
import { approvalRequests, auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { getBus, Topics } from "@/lib/events/bus";
import { bindingOfRequest } from "@/lib/gateway/approvals/hold";
import type { Principal } from "@/lib/gateway/core/types";
import { createApprovalRequest } from "./create";
import { decideApproval } from "./decide";
import { approvalsFixture, principalOf, statement, type ApprovalsFixture } from "./test-fixtures";

/**
 * The decision rules, one test each, against a real (in-memory) database: who may decide,
 * N-of-M, deny ends it, one vote per approver, no deciding after the fact, bounded text.
 */
let fx: ApprovalsFixture;
beforeAll(async () => {
  fx = await approvalsFixture();
});
afterAll(async () => {
  await fx?.handle.close();
});

async function pending(opts: { principal?: Principal; groups?: string[]; min?: number; ttlSeconds?: number; text?: string } = {}) {
  const principal = opts.principal ?? principalOf(fx.people.alice);
  const req = statement(principal, fx.conn, opts.text ?? `UPDATE invoices SET paid = true WHERE id = ${Math.random()}`);
  return createApprovalRequest(fx.db, {
    kind: "statement",
    bindingHash: bindingOfRequest(req),
    connection: fx.conn,
    requester: { userId: principal.userId, email: principal.email },
    chain: principal.chain,
    request: { action: "write", text: req.request.text },
    approverGroups: opts.groups ?? ["approvers"],
    minApprovals: opts.min ?? 1,
    ttlSeconds: opts.ttlSeconds,
  });
}

const status = async (id: number) => (await getApproval(fx.db, id))!.status;

describe("decideApproval", () => {
  it("an approver in the group approves; the decision is audited and published after commit", async () => {
    const { id } = await pending();
    const seen: unknown[] = [];
    const off = getBus().subscribe(Topics.approvalDecided, (d) => seen.push(d));
    const res = await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", comment: "looks fine" });
    off();
    expect(res.approval).toMatchObject({ id, status: "approved", approvals: 1, minApprovals: 1, windowUntil: null });
    expect(seen).toContainEqual({ id, status: "approved" });
    const audit = await fx.db.select().from(auditLog).where(eq(auditLog.subject, `approval:${id}`));
    expect(audit.map((a) => a.action)).toEqual(["approval.request", "approval.approve"]);
    expect(audit[1]).toMatchObject({ actorEmail: fx.people.bob.email, detail: expect.objectContaining({ comment: "looks fine", status: "approved" }) });
  });

  it("refuses callers without approvals:decide, even if they are in the group", async () => {
    const { id } = await pending();
    await expect(decideApproval(fx.db, fx.people.mallory.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await status(id)).toBe("pending");
  });

  it("refuses self-approval, and self-denial", async () => {
    // carol asks; carol is an approver in the group, and still may not decide her own request.
    const { id } = await pending({ principal: principalOf(fx.people.carol) });
    await expect(decideApproval(fx.db, fx.people.carol.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/own request/) });
    await expect(decideApproval(fx.db, fx.people.carol.caller, id, { decision: "deny" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await status(id)).toBe("pending");
  });

  it("refuses the human behind the agent that asked (anyone in the delegation chain), by id and by email", async () => {
    // carol's agent asks: the request's requester is carol; she cannot approve what her agent wants.
    const viaAgent = await pending({ principal: principalOf(fx.people.carol, ["claude", "helper"]) });
    await expect(decideApproval(fx.db, fx.people.carol.caller, viaAgent.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    // bob appears inside someone else's chain (acting on behalf): matched by id ...
    const byId = await pending({ principal: principalOf(fx.people.alice, ["bot"], [{ kind: "user", id: fx.people.bob.id, name: "bob-the-builder" }]) });
    await expect(decideApproval(fx.db, fx.people.bob.caller, byId.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/delegation chain/) });
    // ... and by email when the id differs (e.g. a service link named after him)
    const byEmail = await pending({ principal: principalOf(fx.people.alice, ["bot"], [{ kind: "service", id: "svc-1", name: fx.people.bob.email.toUpperCase() }]) });
    await expect(decideApproval(fx.db, fx.people.bob.caller, byEmail.id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    // someone outside the chain may
    await expect(decideApproval(fx.db, fx.people.adminApprover.caller, byEmail.id, { decision: "approve" })).resolves.toMatchObject({ approval: { status: "approved" } });
  });

  it("refuses approvers outside the request's groups — admins included", async () => {
    const { id } = await pending({ groups: ["dba"] });
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN", message: expect.stringMatching(/only members of dba/) });
    await expect(decideApproval(fx.db, fx.people.admin.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(decideApproval(fx.db, fx.people.admin.caller, id, { decision: "deny" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await status(id)).toBe("pending");
    await expect(decideApproval(fx.db, fx.people.dave.caller, id, { decision: "approve" })).resolves.toMatchObject({ approval: { status: "approved" } });
  });

  it("uses the group membership in the database, not the caller object's claim", async () => {
    const { id } = await pending({ groups: ["dba"] });
    const forged: Caller = { ...fx.people.bob.caller, groups: ["dba"] };
    await expect(decideApproval(fx.db, forged, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("a delegated agent token of an approver cannot decide", async () => {
    const { id } = await pending();
    const agent: Caller = { ...fx.people.bob.caller, via: "token", principal: principalOf(fx.people.bob, ["bot"]) };
    await expect(decideApproval(fx.db, agent, id, { decision: "approve" })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("N-of-M: two approvals needed, one is not enough, the same approver twice does not count", async () => {
    const { id } = await pending({ min: 2 });
    expect((await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).approval).toMatchObject({ status: "pending", approvals: 1, minApprovals: 2 });
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await status(id)).toBe("pending");
    expect((await decideApproval(fx.db, fx.people.carol.caller, id, { decision: "approve" })).approval).toMatchObject({ status: "approved", approvals: 2 });
  });

  it("any deny ends it, even after approvals; later decisions conflict", async () => {
    const { id } = await pending({ min: 2 });
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" });
    expect((await decideApproval(fx.db, fx.people.carol.caller, id, { decision: "deny", reason: "not during month-end close" })).approval.status).toBe("denied");
    await expect(decideApproval(fx.db, fx.people.adminApprover.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT" });
    const detail = (await getApproval(fx.db, id))!;
    expect(detail.decisions.map((d) => [d.approver, d.decision])).toEqual([
      [fx.people.bob.email, "approve"],
      [fx.people.carol.email, "deny"],
    ]);
    expect(detail.decisions[1].comment).toBe("not during month-end close");
  });

  it("deciding an already decided request conflicts", async () => {
    const { id } = await pending();
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" });
    await expect(decideApproval(fx.db, fx.people.carol.caller, id, { decision: "deny" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("deciding an expired request conflicts and records the expiry", async () => {
    const { id } = await pending();
    await fx.db.update(approvalRequests).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(approvalRequests.id, id));
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT", message: expect.stringMatching(/expired/) });
    expect(await status(id)).toBe("expired");
    await expect(decideApproval(fx.db, fx.people.carol.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("unknown ids are NOT_FOUND", async () => {
    await expect(decideApproval(fx.db, fx.people.bob.caller, 999_999, { decision: "approve" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("refuses huge comments and reasons (flooding the queue and the audit log)", async () => {
    const { id } = await pending();
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", comment: "x".repeat(1001) })).rejects.toBeInstanceOf(ZodError);
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "deny", reason: "x".repeat(2001) })).rejects.toBeInstanceOf(ZodError);
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "maybe" })).rejects.toBeInstanceOf(ZodError);
    expect(await status(id)).toBe("pending");
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "deny", reason: "x".repeat(2000) })).resolves.toMatchObject({ approval: { status: "denied" } });
  });

  it("windows: max 8 h; the request gets the smallest window its approvers agreed to, none if one gave none", async () => {
    const a = await pending();
    await expect(decideApproval(fx.db, fx.people.bob.caller, a.id, { decision: "approve", windowSeconds: 8 * 3600 + 1 })).rejects.toBeInstanceOf(ZodError);
    await expect(decideApproval(fx.db, fx.people.bob.caller, a.id, { decision: "deny", windowSeconds: 60 })).rejects.toMatchObject({ code: "INVALID" });
    const t0 = Date.now();
    const res = await decideApproval(fx.db, fx.people.bob.caller, a.id, { decision: "approve", windowSeconds: 3600 });
    expect(res.approval.windowUntil!.getTime()).toBeGreaterThanOrEqual(t0 + 3600_000 - 1000);
    expect(res.approval.windowUntil!.getTime()).toBeLessThanOrEqual(Date.now() + 3600_000);

    const b = await pending({ min: 2 });
    await decideApproval(fx.db, fx.people.bob.caller, b.id, { decision: "approve", windowSeconds: 3600 });
    const both = await decideApproval(fx.db, fx.people.carol.caller, b.id, { decision: "approve", windowSeconds: 600 });
    expect(both.approval.windowUntil!.getTime() - Date.now()).toBeLessThanOrEqual(600_000);

    const c = await pending({ min: 2 });
    await decideApproval(fx.db, fx.people.bob.caller, c.id, { decision: "approve" });
    expect((await decideApproval(fx.db, fx.people.carol.caller, c.id, { decision: "approve", windowSeconds: 600 })).approval.windowUntil).toBeNull();
  });
});
