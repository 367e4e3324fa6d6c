import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { build } from "@/lib/gateway/protocols/postgres/wire";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { putPolicies } from "../support/api-fixture";
import { connectOutcome, gatewayClient } from "../support/gateway-pg";
import { rawPgSession } from "../support/pg-wire-session";


/**
 * Bypass hunt on just-in-time access grants, approvals and delegation, with a real Gatehouse
 * process, real postgres.js / raw wire-protocol clients, the MCP SDK client and real HTTP.
 *
 * The rule under attack (README "Agents and delegation"): a grant an agent obtained holds for
 * that agent and the agents it spawns, never for its human or its sibling agents; a grant the
 * user asked for holds for all their sessions. And SECURITY.md "Approvals": an approval covers
 * exactly what was approved (text, parameters, connection, requester, chain) and nothing after
 * it was revoked or expired; nobody in a request's chain decides it.
 *
 * The demo connection is tagged `jit` (connecting needs an active grant) and `agent-hold` (an
 * agent's writes wait for an approver, grant or not).
 */
const POLICIES = `${DEFAULT_POLICIES}
@id("jit")
@reason("this connection needs an access grant")
forbid (principal, action == Gatehouse::Action::"connect", resource)
when { resource.tags.contains("jit") && !context.grants.active };

@id("agent-writes-held")
@hold("approvers")
permit (principal is Gatehouse::Agent, action, resource)
when { resource.tags.contains("agent-hold") && context.request.kind == "write" };
`;

const PASSWORD = "a-long-password-1";
const DEV = "dev@example.test";
const OPS = "ops@example.test";
const LEAD = "lead@example.test";
const SCRIPT = "script@example.test";
const REFUSED = /this connection needs an access grant/;
const SSN = /^\d{3}-\d{2}-\d{4}$/;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("bypass hunt: grants, approvals and delegation", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let approver: string;
  let opsHuman: string;
  const open: postgres.Sql[] = [];
  const mcpClients: Client[] = [];

  // --- helpers --------------------------------------------------------------------------------

  const exchange = (subject: string, actor: string, extra: Record<string, string> = {}) => exchangeToken(gh.url, subject, actor, extra);
  /** A personal token of `email` (full scope unless narrowed). */
  async function personal(email: string, extra: Record<string, unknown> = {}) {
    const res = await apiCall(gh.url, await login(gh.url, email, PASSWORD), "POST", "/tokens", { name: `root-${Date.now()}`, ttlSeconds: 7200, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { token: res.body.token as string, id: res.body.id as string };
  }
  async function ticket(token: string) {
    const res = await apiCall(gh.url, token, "POST", "/tokens/ticket", { connection: "demo-postgres" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.ticket as string;
  }
  const pg = (password: string, user: string, application: string) => gatewayClient(gh.ports.postgres, { password, user, application, track: open });
  /** Connects and runs one statement: "ok", or the error the gateway answered with. */
  const tryConnect = (password: string, user = DEV) => connectOutcome(gh.ports.postgres, { password, user, application: "try-connect" });
  /** Runs `text`; answers as soon as it either completes, fails, or is held for approval. */
  async function runOrHeld(c: { sql: postgres.Sql; notices: string[] }, text: string): Promise<{ held: number; done: Promise<unknown> } | { ran: true } | { error: string }> {
    let settled = false;
    const done = c.sql.unsafe(text).then(
      () => ({ ran: true as const }),
      (e: Error) => ({ error: e.message }),
    );
    const watch = (async () => {
      while (!settled) {
        const m = c.notices.map((n) => /held for approval #(\d+)/.exec(n)).find(Boolean);
        if (m) return { held: Number(m[1]), done };
        await sleep(25);
      }
      return null;
    })();
    const first = await Promise.race([done, watch]);
    settled = true;
    return first!;
  }
  /** `token` asks for access to demo-postgres and returns the approval id. */
  async function ask(token: string, reason: string) {
    const asked = await apiCall(gh.url, token, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    return asked.body.approval.id as number;
  }
  async function approve(id: number, body: Record<string, unknown> = {}, by = approver) {
    return apiCall(gh.url, by, "POST", `/approvals/${id}/approve`, body);
  }
  /** `token` asks, the approver approves: the grant (id, approval id). */
  async function grant(token: string, reason: string) {
    const id = await ask(token, reason);
    const decided = await approve(id);
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    return { approvalId: id, grantId: decided.body.grant.id as string };
  }
  async function liveSessionOf(app: string): Promise<Record<string, any>> {
    let found: Record<string, any> | undefined;
    await expect
      .poll(async () => (found = ((await apiCall(gh.url, admin, "GET", `/sessions?status=live&q=${encodeURIComponent(app)}`)).body.sessions as Record<string, any>[]).find((s) => s.applicationName === app)), { timeout: 10_000 })
      .toBeTruthy();
    return found!;
  }
  const sessionStatus = async (id: string) => (await apiCall(gh.url, admin, "GET", `/sessions/${id}`)).body.session?.status as string;
  async function mcp(token: string) {
    const client = new Client({ name: "bypass-hunt", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    mcpClients.push(client);
    return client;
  }
  const call = (c: Client, name: string, args: Record<string, unknown>) => c.callTool({ name, arguments: args }, undefined, { timeout: 90_000 }) as Promise<CallToolResult>;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");

  // --- setup ----------------------------------------------------------------------------------

  beforeAll(async () => {
    gh = await startGatehouse({ env: { GATEHOUSE_APPROVAL_TTL_SECONDS: "15" } });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [email, role, groups] of [
      [DEV, "member", []],
      [OPS, "member", []],
      [SCRIPT, "member", []],
      [LEAD, "approver", ["approvers"]],
      ["approver@example.test", "approver", ["approvers"]],
    ] as const) {
      const res = await apiCall(gh.url, admin, "POST", "/users", { email, password: PASSWORD, role, groups });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    approver = await login(gh.url, "approver@example.test", PASSWORD);
    expect((await apiCall(gh.url, admin, "PATCH", "/connections/demo-postgres", { tags: ["demo", "pii", "jit", "agent-hold"] })).status).toBe(200);
    await putPolicies(gh, admin, POLICIES, "grants bypass hunt");
    // OPS asks for access themself: a grant for all of OPS's sessions (their agents connect on it;
    // the agent-hold policy still holds the agents' writes).
    opsHuman = (await personal(OPS)).token;
    await grant(opsHuman, "setup: ops looks themself");
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(mcpClients.map((c) => c.close()));
    await Promise.allSettled(open.map((s) => s.end({ timeout: 1 })));
    await teardown(gh);
  });

  // --- grants bound to the agent that asked ---------------------------------------------------

  it("held: an agent's grant reaches its own tickets and children only, not its human's or a sibling's tickets, a sibling's child named like it, or a new token under its name", async () => {
    const human = (await personal(DEV)).token;
    const claude = (await exchange(human, "claude")).access_token;
    const codex = (await exchange(human, "codex")).access_token;
    await grant(claude, "hunt-1: claude's grant");

    expect(await tryConnect(claude)).toBe("ok");
    expect(await tryConnect(await ticket(claude))).toBe("ok");
    const helper = (await exchange(claude, "helper")).access_token;
    expect(await tryConnect(await ticket(helper))).toBe("ok");

    // The human and the sibling, directly and through tickets.
    expect(await tryConnect(human)).toMatch(REFUSED);
    expect(await tryConnect(await ticket(human))).toMatch(REFUSED);
    expect(await tryConnect(codex)).toMatch(REFUSED);
    expect(await tryConnect(await ticket(codex))).toMatch(REFUSED);
    // A sibling's child that takes the grantee's name; a sibling presenting the grantee's token as actor_token.
    expect(await tryConnect((await exchange(codex, "claude")).access_token)).toMatch(REFUSED);
    expect(await tryConnect((await exchange(codex, "borrow", { actor_token: claude })).access_token)).toMatch(REFUSED);
    // The same actor name minted again from the human: a different agent, not the grantee.
    expect(await tryConnect((await exchange(human, "claude")).access_token)).toMatch(REFUSED);
    // The human's other credentials (a login token, a narrowed personal token).
    expect(await tryConnect(await login(gh.url, DEV, PASSWORD))).toMatch(REFUSED);
    expect(await tryConnect((await personal(DEV, { connections: ["demo-postgres"] })).token)).toMatch(REFUSED);
    // A sub-agent's grant does not flow up to the agent that spawned it.
    const sub = (await exchange(codex, "codex-sub")).access_token;
    await grant(sub, "hunt-1: codex's sub-agent's grant");
    expect(await tryConnect(sub)).toBe("ok");
    expect(await tryConnect(codex)).toMatch(REFUSED);
    expect(await tryConnect(human)).toMatch(REFUSED);
  });

  it("held: an agent cannot turn its grant into one for its whole user (no personal tokens; tickets refused by the API and MCP; MCP request_access binds to the agent)", async () => {
    const human = (await personal(DEV)).token;
    const agent = (await exchange(human, "mcp-agent")).access_token;
    const sibling = (await exchange(human, "mcp-sibling")).access_token;

    // A delegated token mints no personal token (which would carry a one-link chain).
    const minted = await apiCall(gh.url, agent, "POST", "/tokens", { name: "escape", ttlSeconds: 600 });
    expect(minted.status).toBe(403);
    // A ticket (its chain is the agent's) is refused by the REST API and by MCP.
    const t = await ticket(agent);
    expect((await apiCall(gh.url, t, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason: "via ticket" })).status).toBe(401);
    const viaTicket = await fetch(`${gh.url}/api/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${await ticket(agent)}` },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } }),
    });
    expect(viaTicket.status).toBe(401);

    // request_access over MCP: the grant is the agent's.
    const client = await mcp(agent);
    const asked = await call(client, "request_access", { connection: "demo-postgres", duration_minutes: 10, reason: "hunt-2: via MCP" });
    expect(asked.isError, text(asked)).toBeFalsy();
    const approvalId = (asked.structuredContent as { approvalId: number }).approvalId;
    expect((await approve(approvalId)).status).toBe(200);
    const listed = ((await apiCall(gh.url, approver, "GET", "/grants?active=1")).body.grants as Record<string, any>[]).find((g) => g.requestId === approvalId);
    expect(listed).toMatchObject({ user: DEV, actor: `${DEV} → mcp-agent` });
    expect(await tryConnect(agent)).toBe("ok");
    expect(await tryConnect(human)).toMatch(REFUSED);
    expect(await tryConnect(sibling)).toMatch(REFUSED);
    // The sibling's MCP calls do not ride on it either.
    const denied = await call(await mcp(sibling), "run_sql", { connection: "demo-postgres", sql: "select 1" });
    expect(denied.isError).toBe(true);
    expect(text(denied)).toMatch(REFUSED);
  });

  it("held (by design): a personal token the user narrowed to one connection asks as the user: its grant holds for all their sessions", async () => {
    const narrowed = (await personal(SCRIPT, { connections: ["demo-postgres"], actions: ["connect", "read"] })).token;
    const human = (await personal(SCRIPT)).token;
    const agent = (await exchange(human, "other-agent")).access_token;
    expect(await tryConnect(agent, SCRIPT)).toMatch(REFUSED);
    const { approvalId } = await grant(narrowed, "hunt-3: script token");
    const listed = ((await apiCall(gh.url, approver, "GET", "/grants?active=1")).body.grants as Record<string, any>[]).find((g) => g.requestId === approvalId);
    // README: "a grant the user asked for themself holds for all their sessions, agents included".
    expect(listed).toMatchObject({ user: SCRIPT, actor: null });
    expect(await tryConnect(agent, SCRIPT)).toBe("ok");
  });

  it("held: nobody in a request's chain decides it, and delegated or narrowed tokens decide nothing", async () => {
    const lead = (await personal(LEAD)).token;
    const leadAgent = (await exchange(lead, "lead-agent")).access_token;
    const leadNarrow = (await personal(LEAD, { connections: ["demo-postgres"] })).token;

    // The lead's agent asks: neither the lead (by any credential) nor the agent may approve it.
    const agentAsked = await ask(leadAgent, "hunt-4: lead's agent asks");
    expect((await approve(agentAsked, {}, lead)).status).toBe(403);
    expect((await approve(agentAsked, {}, leadAgent)).status).toBe(403);
    expect((await approve(agentAsked, {}, leadNarrow)).status).toBe(403);
    expect((await approve(agentAsked, { windowSeconds: 60 }, lead)).status).toBe(403);
    // The lead asks: their agent may not approve its own human's request either.
    const leadAsked = await ask(lead, "hunt-4: lead asks");
    expect((await approve(leadAsked, {}, leadAgent)).status).toBe(403);
    expect((await apiCall(gh.url, leadAgent, "POST", `/approvals/${leadAsked}/deny`, {})).status).toBe(403);
    // Someone else's agent's request: the lead's agent token cannot approve it; the lead can.
    const devAgent = (await exchange((await personal(DEV)).token, "dev-agent-4")).access_token;
    const devAsked = await ask(devAgent, "hunt-4: dev's agent asks");
    expect((await approve(devAsked, {}, leadAgent)).status).toBe(403);
    expect((await approve(devAsked, {}, leadNarrow)).status).toBe(403);
    expect((await approve(devAsked, {}, lead)).status).toBe(200);
    // The others are decided by a real approver; nothing was granted along the way.
    expect((await approve(agentAsked)).status).toBe(200);
    expect((await approve(leadAsked)).status).toBe(200);
  });

  it("held: an access request approved after it expired gives no grant", async () => {
    const human = (await personal(DEV)).token;
    const agent = (await exchange(human, "late-agent")).access_token;
    const id = await ask(agent, "hunt-5: approved too late");
    await sleep(16_000); // GATEHOUSE_APPROVAL_TTL_SECONDS=15
    const late = await approve(id);
    expect(late.status).toBe(409);
    expect(((await apiCall(gh.url, approver, "GET", "/grants")).body.grants as Record<string, any>[]).some((g) => g.requestId === id)).toBe(false);
    expect(await tryConnect(agent)).toMatch(REFUSED);
  }, 60_000);

  // --- revocation -----------------------------------------------------------------------------

  it("held: revoking an agent's token ends every session standing on its grant (its own, its child's, its ticket's) and the grant serves nobody after", async () => {
    const human = (await personal(DEV)).token;
    const agent = await exchange(human, "investigator");
    await grant(agent.access_token, "hunt-6: investigator");
    const child = (await exchange(agent.access_token, "sub-investigator")).access_token;
    const clients = [pg(agent.access_token, DEV, "rv-agent"), pg(child, DEV, "rv-child"), pg(await ticket(agent.access_token), DEV, "rv-ticket")];
    for (const c of clients) await c.sql`select 1`;
    const live = await Promise.all(["rv-agent", "rv-child", "rv-ticket"].map(liveSessionOf));

    expect((await apiCall(gh.url, human, "DELETE", `/tokens/${agent.token_id}`)).status).toBe(200);
    for (const s of live) await expect.poll(() => sessionStatus(s.id), { timeout: 10_000 }).toBe("killed");
    for (const c of clients) await expect(c.sql`select 1`).rejects.toThrow();
    expect(await tryConnect((await exchange(human, "investigator")).access_token)).toMatch(REFUSED);
    expect(await tryConnect(human)).toMatch(REFUSED);
  });

  it("held (control): revoking an agent's grant (DELETE /grants/:id) ends the session standing on it", async () => {
    const human = (await personal(DEV)).token;
    const agent = (await exchange(human, "grant-revoked")).access_token;
    const { grantId } = await grant(agent, "hunt-7: revoke the grant");
    const c = pg(agent, DEV, "rv-grant");
    await c.sql`select 1`;
    const live = await liveSessionOf("rv-grant");
    expect((await apiCall(gh.url, approver, "DELETE", `/grants/${grantId}`)).status).toBe(200);
    await expect.poll(() => sessionStatus(live.id), { timeout: 10_000 }).toBe("killed");
  });

  it("revoking the approval behind an agent's grant (POST /approvals/:id/revoke) revokes the grant and ends the session it let in", async () => {
    const human = (await personal(DEV)).token;
    const agent = (await exchange(human, "approval-revoked")).access_token;
    const { approvalId, grantId } = await grant(agent, "hunt-8: revoke the approval");
    const c = pg(agent, DEV, "rv-approval");
    await c.sql`select 1`;
    const live = await liveSessionOf("rv-approval");

    const revoked = await apiCall(gh.url, approver, "POST", `/approvals/${approvalId}/revoke`, { reason: "access withdrawn" });
    expect(revoked.status, JSON.stringify(revoked.body)).toBe(200);
    // The grant is revoked, and no new session gets in …
    const g = ((await apiCall(gh.url, approver, "GET", "/grants")).body.grants as Record<string, any>[]).find((x) => x.id === grantId);
    expect(g).toMatchObject({ active: false, revokedAt: expect.any(String) });
    expect(await tryConnect(agent)).toMatch(REFUSED);
    // … but the session the grant let in must end too ("revoking a just-in-time grant closes what
    // it let in"), as it does when the grant itself is revoked (previous test).
    await sleep(5_000);
    const status = await sessionStatus(live.id);
    const ranAfterRevoke = await c.sql`select name from customers where id = 1`.then(
      (rows) => rows.length === 1,
      () => false,
    );
    expect({ status, ranAfterRevoke }, "the session stood on a revoked grant and kept reading").toEqual({ status: "killed", ranAfterRevoke: false });
  });

  // --- what an agent may read of its human's sessions -----------------------------------------

  it("an agent cannot read its human's session recording (the unmasked rows the human was shown)", async () => {
    const human = opsHuman;
    const agent = (await exchange(human, "ops-agent")).access_token;

    const mine = pg(human, OPS, "ops-human");
    const [raw] = await mine.sql`select ssn from customers where id = 7`;
    expect(raw.ssn).toMatch(SSN); // people are not masked
    const theirs = pg(agent, OPS, "ops-agent");
    const [masked] = await theirs.sql`select ssn from customers where id = 7`;
    expect(masked.ssn).not.toBe(raw.ssn); // the agent is
    const humanSession = await liveSessionOf("ops-human");
    await mine.sql.end({ timeout: 1 });

    // README: a delegated token can "read connections and its own sessions".
    const list = await apiCall(gh.url, agent, "GET", "/sessions");
    expect(list.status).toBe(200);
    const events = await apiCall(gh.url, agent, "GET", `/sessions/${humanSession.id}/events`);
    const leaked = JSON.stringify(events.body).includes(raw.ssn);
    expect({ status: events.status, leaked, listsHumanSession: (list.body.sessions as Record<string, any>[]).some((s) => s.id === humanSession.id) }).toEqual({ status: 404, leaked: false, listsHumanSession: false });
  });

  // --- statement approvals --------------------------------------------------------------------

  /** Waits for the pending statement approval that `held` names and approves it. */
  async function approveHeld(id: number, body: Record<string, unknown> = {}) {
    const res = await approve(id, body);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }

  it("held: a held write whose client went away cannot be approved into use later; a sibling's same write is held on its own", async () => {
    const human = (await personal(OPS)).token;
    const writer = (await exchange(human, "quitter")).access_token;
    const sibling = (await exchange(human, "quitter-sibling")).access_token;
    const stmt = "update customers set country = country where id = 11";
    const c = pg(writer, OPS, "quit-1");
    const first = await runOrHeld(c, stmt);
    expect(first).toHaveProperty("held");
    const id = (first as { held: number }).held;
    await c.sql.end({ timeout: 0 }).catch(() => {});
    // The hold was given up with its client: a late approval is refused.
    await expect.poll(async () => (await approve(id)).status, { timeout: 10_000 }).toBe(409);
    const s = pg(sibling, OPS, "quit-2");
    const other = await runOrHeld(s, stmt);
    expect(other).toHaveProperty("held");
    expect((other as { held: number }).held).not.toBe(id);
    await s.sql.end({ timeout: 0 }).catch(() => {});
  });

  it("held: a sibling agent cannot collect another agent's held MCP call result; the agent that made it can", async () => {
    const human = opsHuman;
    const maker = (await exchange(human, "mcp-maker")).access_token;
    const sibling = (await exchange(human, "mcp-peer")).access_token;
    const makerClient = await mcp(maker);
    const first = await call(makerClient, "run_sql", { connection: "demo-postgres", sql: "update customers set country = country where id = 12 returning id", wait_seconds: 1 });
    const id = (first.structuredContent as { approvalId?: number } | undefined)?.approvalId;
    expect(id, text(first)).toBeGreaterThan(0);
    expect((await approve(id!)).status).toBe(200);
    const peer = await call(await mcp(sibling), "wait_for_approval", { approval_id: id, timeout_seconds: 5 });
    expect(text(peer)).not.toMatch(/UPDATE|rowCount/);
    const own = await call(makerClient, "wait_for_approval", { approval_id: id, timeout_seconds: 30 });
    expect(text(own)).toMatch(/UPDATE/);
  });

  it("a window approved for a text-format Bind parameter '\\x5a5a' does not run the binary-format parameter 'ZZ' (a different value)", async () => {
    const human = (await personal(OPS)).token;
    const agent = (await exchange(human, "binder")).access_token;
    const raw = await rawPgSession(gh.ports.postgres, { user: OPS, database: "demo-postgres", password: agent });
    const stmt = "update customers set country = $1 where id = 4";
    const TEXT = 25;
    const runBind = (formats: (0 | 1)[], param: Buffer) => raw.write(build.parse({ text: stmt, paramTypes: [TEXT] }), build.bind({ paramFormats: formats, params: [param] }), build.execute(), build.sync());
    const heldId = async () => {
      let id = 0;
      await raw.until(() => raw.msgs.some((m) => m.type === "NoticeResponse" && (id = Number(/held for approval #(\d+)/.exec(String(m.fields.message))?.[1] ?? 0)) > 0));
      return id;
    };

    // Text format: the approver is shown the 6-character string \x5a5a (a leading backslash
    // doubled, so no text renders like binary bytes) and approves it with a window.
    runBind([0], Buffer.from("\\x5a5a"));
    const id = await heldId();
    const shown = (await apiCall(gh.url, approver, "GET", `/approvals/${id}`)).body;
    expect(shown.approval.request.params).toEqual(["\\\\x5a5a"]);
    await approveHeld(id, { windowSeconds: 600 });
    expect((await raw.ready()).some((m) => m.type === "CommandComplete")).toBe(true);

    // Binary-format bytes "ZZ" render as \x5a5a: a different binding, held again.
    raw.msgs.splice(0);
    runBind([1], Buffer.from("ZZ"));
    await heldId();
    raw.end();
    const ops = pg(human, OPS, "binder-check");
    const [row] = await ops.sql`select country from customers where id = 4`;
    expect(row.country).toBe("\\x5a5a");
  });

  it("a time window approved for an agent ends when its token is revoked: the same agent exchanged anew is held again", async () => {
    const human = (await personal(OPS)).token;
    const { access_token: writer, token_id: writerId } = await exchange(human, "window-writer");
    const stmt = "update customers set country = country where id = 5";
    const first = await runOrHeld(pg(writer, OPS, "window-1"), stmt);
    expect(first).toHaveProperty("held");
    await approveHeld((first as { held: number }).held, { windowSeconds: 600 });
    await (first as { done: Promise<unknown> }).done;
    // Within the window the same write runs unheld, from a new session of the same token.
    expect(await runOrHeld(pg(writer, OPS, "window-2"), stmt)).toEqual({ ran: true });

    expect((await apiCall(gh.url, human, "DELETE", `/tokens/${writerId}`)).status).toBe(200);
    const again = (await exchange(human, "window-writer")).access_token;
    expect(await runOrHeld(pg(again, OPS, "window-3"), stmt)).toHaveProperty("held");
  });
});
