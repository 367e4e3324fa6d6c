import { randomUUID } from "node:crypto";
import { eq } from "drizzle-orm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { getApproval } from "@/db/queries/approvals";
import { auditLog } from "@/db/schema";
import { getBus, Topics } from "@/lib/events/bus";
import type { GatewayRequest } from "@/lib/gateway/core/types";
import { consumeApproval } from "@/lib/services/approvals/consume";
import { decideApproval } from "@/lib/services/approvals/decide";
import { revokeApproval } from "@/lib/services/approvals/revoke";
import { approvalsFixture, principalOf, statement, type ApprovalsFixture } from "@/lib/services/approvals/test-fixtures";
import { bindingOfRequest, holdForApproval, type HoldOptions } from "./hold";

/**
 * The hold, end to end on an in-memory database: the held request resumes on approval, and an
 * approval covers exactly what was approved (text, params, connection, requester, chain), once.
 */
let fx: ApprovalsFixture;
beforeAll(async () => {
  fx = await approvalsFixture();
});
afterAll(async () => {
  await fx?.handle.close();
});
afterEach(() => {
  delete process.env.GATEHOUSE_APPROVAL_TTL_SECONDS;
});

const requirement = { approverGroups: ["approvers"], minApprovals: 1 };
const UPDATE_A = "UPDATE invoices SET paid = true WHERE id = $1";

/** Starts a hold and resolves its approval id as soon as the request exists. */
function startHold(req: GatewayRequest, opts: HoldOptions = { timeoutMs: 10_000 }, sessionId?: string) {
  let created!: (v: { id: number; url: string }) => void;
  const createdP = new Promise<{ id: number; url: string }>((r) => (created = r));
  const outcome = holdForApproval(fx.db, { request: req, requirement, sessionId, onCreated: (a) => created(a) }, opts);
  return { created: createdP, outcome };
}

/** A hold that nobody decides: proves that a new approval was asked for (and cleans up). */
async function asksAgain(req: GatewayRequest) {
  const h = startHold(req, { timeoutMs: 300 });
  const { id } = await h.created;
  expect(await h.outcome).toEqual({ status: "expired", approvalId: id });
  return id;
}

describe("holdForApproval", () => {
  it("creates a request, announces it, and resumes the moment an approver approves (bus, not the poll)", async () => {
    const req = statement(principalOf(fx.people.alice), fx.conn, UPDATE_A, ["1"]);
    const h = startHold(req, { timeoutMs: 10_000, pollMs: 60_000 });
    const { id, url } = await h.created;
    expect(url).toMatch(new RegExp(`/approvals/${id}$`));
    const detail = await getApproval(fx.db, id);
    expect(detail).toMatchObject({ status: "pending", kind: "statement", connection: "billing-db", requester: fx.people.alice.email, request: expect.objectContaining({ text: UPDATE_A, params: ["1"] }) });
    const t0 = Date.now();
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" });
    expect(await h.outcome).toEqual({ status: "approved", approvalId: id, via: "request" });
    // by the bus: the poll would have taken 60 s (bench/console/run.ts measures how fast it is)
    expect(Date.now() - t0).toBeLessThan(20_000);
    // consumed: single use
    expect((await getApproval(fx.db, id))!.status).toBe("used");
  });

  it("falls back to the DB poll when the notification is lost", async () => {
    const req = statement(principalOf(fx.people.alice), fx.conn, "DELETE FROM invoices WHERE id = 7");
    const h = startHold(req, { timeoutMs: 10_000, pollMs: 200 });
    const { id } = await h.created;
    // Decide behind the bus's back (as another process on PGlite would look from here).
    const { approvalRequests } = await import("@/db/schema");
    await fx.db.update(approvalRequests).set({ status: "approved", decidedAt: new Date() }).where(eq(approvalRequests.id, id));
    expect(await h.outcome).toMatchObject({ status: "approved", approvalId: id });
  });

  it("a denial ends the hold with the approver's reason", async () => {
    const h = startHold(statement(principalOf(fx.people.alice), fx.conn, "DROP TABLE invoices"));
    const { id } = await h.created;
    await decideApproval(fx.db, fx.people.carol.caller, id, { decision: "deny", reason: "use a migration" });
    expect(await h.outcome).toEqual({ status: "denied", approvalId: id, reason: `approval #${id} was denied by ${fx.people.carol.email}: use a migration` });
  });

  it("approving A does not let B run: B needs its own approval", async () => {
    const alice = principalOf(fx.people.alice);
    const a = startHold(statement(alice, fx.conn, "UPDATE invoices SET paid = true WHERE id = 1"));
    const { id } = await a.created;
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", windowSeconds: 3600 });
    expect((await a.outcome).status).toBe("approved");
    const other = await asksAgain(statement(alice, fx.conn, "UPDATE invoices SET paid = true WHERE id = 2"));
    expect(other).not.toBe(id);
    // ... nor on another connection
    await asksAgain({ ...statement(alice, fx.conn, "UPDATE invoices SET paid = true WHERE id = 1"), connection: fx.otherConn });
  });

  it("changed Bind parameters need a new approval, even inside an approved window", async () => {
    const alice = principalOf(fx.people.alice);
    const h = startHold(statement(alice, fx.conn, UPDATE_A, ["100"]));
    const { id } = await h.created;
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", windowSeconds: 3600 });
    expect(await h.outcome).toMatchObject({ status: "approved", via: "request" });
    // same text and params again: the window covers it, no new request
    const again = await holdForApproval(fx.db, { request: statement(alice, fx.conn, `  ${UPDATE_A.replace(/ /g, "   ")}\n`, ["100"]), requirement }, { timeoutMs: 300 });
    expect(again).toEqual({ status: "approved", approvalId: id, via: "window" });
    // other params: a new request
    await asksAgain(statement(alice, fx.conn, UPDATE_A, ["101"]));
    await asksAgain(statement(alice, fx.conn, UPDATE_A, ["100", "x"]));
    await asksAgain(statement(alice, fx.conn, UPDATE_A));
    const audit = await fx.db.select().from(auditLog).where(eq(auditLog.action, "approval.window_used"));
    expect(audit.some((a) => a.subject === `approval:${id}`)).toBe(true);
  });

  it("the window is per requester and chain: the user's window does not cover their agent, nor another user", async () => {
    const h = startHold(statement(principalOf(fx.people.alice), fx.conn, "UPDATE invoices SET memo = 'x'"));
    const { id } = await h.created;
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", windowSeconds: 3600 });
    await h.outcome;
    await asksAgain(statement(principalOf(fx.people.alice, ["claude"]), fx.conn, "UPDATE invoices SET memo = 'x'"));
    await asksAgain(statement(principalOf(fx.people.dave), fx.conn, "UPDATE invoices SET memo = 'x'"));
  });

  it("a window approved under a looser requirement does not cover a stricter one", async () => {
    const alice = principalOf(fx.people.alice);
    const text = "UPDATE invoices SET audited = true";
    const h = startHold(statement(alice, fx.conn, text));
    const { id } = await h.created;
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", windowSeconds: 3600 });
    await h.outcome;
    const stricter = [
      { approverGroups: ["approvers"], minApprovals: 2 },
      { approverGroups: ["dba"], minApprovals: 1 },
    ];
    for (const req of stricter) {
      const held = holdForApproval(fx.db, { request: statement(alice, fx.conn, text), requirement: req }, { timeoutMs: 300 });
      expect(await held).toMatchObject({ status: "expired" });
    }
    // the same or a looser requirement is covered
    const same = await holdForApproval(fx.db, { request: statement(alice, fx.conn, text), requirement: { approverGroups: ["approvers", "dba"], minApprovals: 1 } }, { timeoutMs: 300 });
    expect(same).toEqual({ status: "approved", approvalId: id, via: "window" });
  });

  it("an approval is single-use: it cannot be replayed, nor used from another session or chain", async () => {
    const sessionA = randomUUID();
    const req = statement(principalOf(fx.people.alice), fx.conn, "UPDATE invoices SET paid = false WHERE id = 9");
    const hash = bindingOfRequest(req);
    // No poll: the hold only looks when told, so the attempts below happen before it consumes.
    const h = startHold(req, { timeoutMs: 10_000, pollMs: 60_000 }, sessionA);
    const { id } = await h.created;
    const actor = { userId: fx.people.alice.id, email: fx.people.alice.email };
    // before the hold consumes it: another session, or another chain, cannot take it
    const { approvalRequests } = await import("@/db/schema");
    await fx.db.update(approvalRequests).set({ status: "approved" }).where(eq(approvalRequests.id, id)); // approved, not yet consumed
    expect(await consumeApproval(fx.db, { id, bindingHash: hash, sessionId: randomUUID(), actor })).toEqual({ ok: false });
    const agentHash = bindingOfRequest(statement(principalOf(fx.people.alice, ["claude"]), fx.conn, req.request.text));
    expect(await consumeApproval(fx.db, { id, bindingHash: agentHash, sessionId: sessionA, actor })).toEqual({ ok: false });
    // the holding session takes it ...
    await getBus().publish(Topics.approvalDecided, { id, status: "approved" });
    expect(await h.outcome).toMatchObject({ status: "approved", approvalId: id });
    // ... exactly once
    expect(await consumeApproval(fx.db, { id, bindingHash: hash, sessionId: sessionA, actor })).toEqual({ ok: false });
  });

  it("two racing consumers: exactly one wins", async () => {
    const req = statement(principalOf(fx.people.alice), fx.conn, "UPDATE invoices SET paid = false WHERE id = 10");
    const h = startHold(req, { timeoutMs: 300 });
    const { id } = await h.created;
    await h.outcome; // expired: the hold gave up
    const { approvalRequests } = await import("@/db/schema");
    await fx.db.update(approvalRequests).set({ status: "approved" }).where(eq(approvalRequests.id, id));
    const actor = { userId: fx.people.alice.id, email: fx.people.alice.email };
    const results = await Promise.all([1, 2, 3].map(() => consumeApproval(fx.db, { id, bindingHash: bindingOfRequest(req), actor })));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
  });

  it("honours expiry: a short TTL expires the hold, and a late approval is refused", async () => {
    process.env.GATEHOUSE_APPROVAL_TTL_SECONDS = "1";
    const h = startHold(statement(principalOf(fx.people.alice), fx.conn, "TRUNCATE invoices"), { timeoutMs: 60_000, pollMs: 100 });
    const { id } = await h.created;
    const t0 = Date.now();
    expect(await h.outcome).toEqual({ status: "expired", approvalId: id });
    // at the 1 s TTL, not at the hold's own 60 s timeout
    expect(Date.now() - t0).toBeLessThan(20_000);
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("a windowed approval is reused within its window and not after it, nor after it was revoked", async () => {
    const alice = principalOf(fx.people.alice);
    const text = "UPDATE invoices SET reminded = now()";
    const h = startHold(statement(alice, fx.conn, text));
    const { id } = await h.created;
    // 2 s: still open when the reuse below asks, even on a loaded machine
    await decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve", windowSeconds: 2 });
    await h.outcome;
    expect(await holdForApproval(fx.db, { request: statement(alice, fx.conn, text), requirement }, { timeoutMs: 300 })).toMatchObject({ status: "approved", via: "window" });
    // past the window (it began at the decision, before the reuse above)
    await new Promise((r) => setTimeout(r, 2100));
    await asksAgain(statement(alice, fx.conn, text));

    const text2 = "UPDATE invoices SET reminded = null";
    const h2 = startHold(statement(alice, fx.conn, text2));
    const second = await h2.created;
    await decideApproval(fx.db, fx.people.bob.caller, second.id, { decision: "approve", windowSeconds: 3600 });
    await h2.outcome;
    await revokeApproval(fx.db, fx.people.carol.caller, second.id, { reason: "window was too broad" });
    await asksAgain(statement(alice, fx.conn, text2));
  });

  it("a cancelled hold (client went away) cancels its request", async () => {
    const ac = new AbortController();
    const h = startHold(statement(principalOf(fx.people.alice), fx.conn, "DELETE FROM invoices"), { timeoutMs: 10_000, signal: ac.signal });
    const { id } = await h.created;
    ac.abort();
    expect(await h.outcome).toMatchObject({ status: "cancelled", approvalId: id });
    expect((await getApproval(fx.db, id))!.status).toBe("cancelled");
    await expect(decideApproval(fx.db, fx.people.bob.caller, id, { decision: "approve" })).rejects.toMatchObject({ code: "CONFLICT" });
  });

  it("refuses a requirement nobody can satisfy instead of hanging", async () => {
    await expect(holdForApproval(fx.db, { request: statement(principalOf(fx.people.alice), fx.conn, "SELECT 1"), requirement: { approverGroups: [], minApprovals: 1 } }, { timeoutMs: 100 })).rejects.toMatchObject({ code: "INVALID" });
  });
});
