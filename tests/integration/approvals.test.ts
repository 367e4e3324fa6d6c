import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";

/**
 * Approvals through the real server (production build) over HTTP: a member asks for
 * just-in-time access and long-polls; an approver approves in another request; the waiting
 * call returns within a second with the grant. Plus the refusals and the webhook.
 */
describe("approvals over the REST API", () => {
  let gh: GatehouseProcess;
  let hookServer: http.Server;
  const hookEvents: Record<string, any>[] = [];
  const tokens: Record<"admin" | "member" | "other" | "approver", string> = { admin: "", member: "", other: "", approver: "" };

  beforeAll(async () => {
    hookServer = http.createServer((req, res) => {
      let data = "";
      req.on("data", (d) => (data += d));
      req.on("end", () => {
        hookEvents.push(JSON.parse(data));
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/approvals-hook`;
    gh = await startGatehouse({ demo: false, env: { GATEHOUSE_APPROVAL_WEBHOOK_URL: hook, GATEHOUSE_APPROVAL_WEBHOOK_FORMAT: "json" } });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const users: [keyof typeof tokens, string, string, string[]][] = [
      ["member", "dev@example.test", "member", []],
      ["other", "other@example.test", "member", []],
      ["approver", "approver@example.test", "approver", ["approvers"]],
    ];
    for (const [key, email, role, groups] of users) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/users", { email, password: "a-long-password-1", role, groups });
      expect(res.status).toBe(200);
      tokens[key] = await login(gh.url, email, "a-long-password-1");
    }
    const conn = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "billing-db", type: "postgres", upstream: "postgres://127.0.0.1:1/billing", tags: ["prod"] });
    expect(conn.status).toBe(200);
  });
  afterAll(async () => {
    await teardown(gh);
    hookServer?.close();
  });

  async function pendingFor(token: string, reason: string): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const list = await apiCall(gh.url, token, "GET", "/approvals?status=pending");
      const hit = (list.body.approvals as { id: number; reason: string }[]).find((a) => a.reason === reason);
      if (hit) return hit.id;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`no pending request "${reason}"`);
  }

  it("a member's waiting access request returns approved, with a grant, as soon as it is approved", async () => {
    const waiting = apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 1800, reason: "INC-7 refund", wait: 20 }).then((r) => ({ ...r, at: Date.now() }));
    const id = await pendingFor(tokens.approver, "INC-7 refund");
    const approvedAt = Date.now();
    const approved = await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/approve`, { comment: "go ahead" });
    expect(approved.status).toBe(200);
    expect(approved.body).toMatchObject({ approval: { id, status: "approved", approvals: 1, minApprovals: 1 }, grant: { connectionId: expect.any(String) } });
    const res = await waiting;
    expect(res.status).toBe(200);
    console.info(`[approvals test] waiting access request answered ${res.at - approvedAt} ms after the approve call started`);
    // answered by the approval, not at the end of its 20 s wait (how fast: bench:console)
    expect(res.at - approvedAt).toBeLessThan(10_000);
    expect(res.body).toMatchObject({ status: "approved", approval: { id, kind: "access", requester: "dev@example.test", connection: "billing-db" }, grant: { requestId: id } });
    const expires = new Date(res.body.grant.expiresAt).getTime();
    expect(expires - Date.now()).toBeGreaterThan(1800_000 - 10_000);
    expect(expires - Date.now()).toBeLessThanOrEqual(1800_000);

    const mine = await apiCall(gh.url, tokens.member, "GET", "/grants?active=1");
    expect(mine.body.grants).toEqual([expect.objectContaining({ id: res.body.grant.id, user: "dev@example.test", connection: "billing-db", active: true })]);
    expect((await apiCall(gh.url, tokens.other, "GET", "/grants")).body.grants).toEqual([]);

    // the decision is visible to the requester, with the approver's email
    const detail = await apiCall(gh.url, tokens.member, "GET", `/approvals/${id}`);
    expect(detail.body.approval.decisions).toEqual([expect.objectContaining({ approver: "approver@example.test", decision: "approve", comment: "go ahead" })]);

    // revoking the grant: members may not, approvers may
    expect((await apiCall(gh.url, tokens.member, "DELETE", `/grants/${res.body.grant.id}`)).status).toBe(403);
    expect((await apiCall(gh.url, tokens.approver, "DELETE", `/grants/${res.body.grant.id}`)).status).toBe(200);
    expect((await apiCall(gh.url, tokens.member, "GET", "/grants?active=1")).body.grants).toEqual([]);
  });

  it("the webhook received the new request and the decision", async () => {
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !hookEvents.some((e) => e.event === "approval.decided")) await new Promise((r) => setTimeout(r, 50));
    const created = hookEvents.find((e) => e.event === "approval.created" && e.approval.reason === "INC-7 refund");
    const decided = hookEvents.find((e) => e.event === "approval.decided" && e.approval.id === created?.approval.id);
    expect(created).toMatchObject({ approval: { kind: "access", status: "pending", connection: "billing-db", requester: "dev@example.test" }, url: expect.stringMatching(/\/approvals\/\d+$/) });
    expect(decided).toMatchObject({ approval: { status: "approved", decision: { by: "approver@example.test", decision: "approve" } } });
  });

  it("refuses self-approval (403) and approval by a member (403)", async () => {
    const own = await apiCall(gh.url, tokens.approver, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 600, reason: "my own" });
    expect(own.status).toBe(200);
    const id = own.body.approval.id;
    const self = await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/approve`, {});
    expect(self.status).toBe(403);
    expect(self.body.error.message).toMatch(/own request/);
    expect((await apiCall(gh.url, tokens.member, "POST", `/approvals/${id}/approve`, {})).status).toBe(403);
    expect((await apiCall(gh.url, tokens.member, "POST", `/approvals/${id}/deny`, { reason: "no" })).status).toBe(403);
    expect((await apiCall(gh.url, tokens.approver, "GET", `/approvals/${id}`)).body.approval.status).toBe("pending");
    // the first admin is in "approvers" and may decide it
    const denied = await apiCall(gh.url, tokens.admin, "POST", `/approvals/${id}/deny`, { reason: "not today" });
    expect(denied.body.approval.status).toBe("denied");
    expect((await apiCall(gh.url, tokens.admin, "POST", `/approvals/${id}/approve`, {})).status).toBe(409);
  });

  it("refuses huge reasons and comments (400) and bad input", async () => {
    expect((await apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 600, reason: "x".repeat(2001) })).status).toBe(400);
    expect((await apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 86_401, reason: "long" })).status).toBe(400);
    expect((await apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection: "nope", durationSeconds: 600, reason: "x" })).status).toBe(404);
    const ok = await apiCall(gh.url, tokens.member, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 600, reason: "comment test" });
    const id = ok.body.approval.id;
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/approve`, { comment: "x".repeat(1001) })).status).toBe(400);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/deny`, { reason: "x".repeat(2001) })).status).toBe(400);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/not-a-number/approve`, {})).status).toBe(404);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/deny`, { reason: "tidy up" })).status).toBe(200);
  });

  it("members see only their own requests; approvers see the queue; wait is for the requester or a decider", async () => {
    const asked = await apiCall(gh.url, tokens.other, "POST", "/access-requests", { connection: "billing-db", durationSeconds: 600, reason: "other's request" });
    const id = asked.body.approval.id;
    const memberList = await apiCall(gh.url, tokens.member, "GET", "/approvals?status=all");
    expect(memberList.body.approvals.every((a: { requester: string }) => a.requester === "dev@example.test")).toBe(true);
    expect((await apiCall(gh.url, tokens.member, "GET", `/approvals/${id}`)).status).toBe(404);
    expect((await apiCall(gh.url, tokens.member, "GET", `/approvals/${id}/wait?timeout=1`)).status).toBe(404);
    const queue = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending&mine=1");
    expect(queue.body.approvals.map((a: { id: number }) => a.id)).toContain(id);

    const t0 = Date.now();
    const still = await apiCall(gh.url, tokens.other, "GET", `/approvals/${id}/wait?timeout=1`);
    expect(still.body).toMatchObject({ status: "pending", decided: false });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect((await apiCall(gh.url, tokens.other, "GET", `/approvals/${id}/wait?timeout=61`)).status).toBe(400);

    const waiting = apiCall(gh.url, tokens.other, "GET", `/approvals/${id}/wait?timeout=20`).then((r) => ({ ...r, at: Date.now() }));
    await new Promise((r) => setTimeout(r, 200));
    const deniedAt = Date.now();
    await apiCall(gh.url, tokens.approver, "POST", `/approvals/${id}/deny`, { reason: "use the runbook" });
    const res = await waiting;
    expect(res.body).toMatchObject({ status: "denied", decided: true });
    expect(res.at - deniedAt).toBeLessThan(10_000); // by the denial, not at the end of the 20 s wait
  });
});
