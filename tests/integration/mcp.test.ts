import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { LoggingMessageNotificationSchema, type CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addApprover, addUser, heldApproval, type Rec } from "../support/api-fixture";


/**
 * The MCP endpoint driven by the SDK's own client over Streamable HTTP against the production
 * build: bearer auth, masking for agents, a depth-2 agent's write held until an approver
 * approves over REST (in-band and via wait_for_approval), policy denials, the recording, and
 * a revoked token refused on the very next call. The upstream is the demo PGlite database.
 */
describe("MCP endpoint (/api/mcp)", () => {
  let gh: GatehouseProcess;
  const t = { admin: "", dev: "", approver: "", agent: "", agentId: "", sub: "" };
  const clients: Client[] = [];

  const exchange = (subject: string, actor: string) => exchangeToken(gh.url, subject, actor);

  async function mcp(token: string, logs: string[] = []) {
    const client = new Client({ name: "mcp-test", version: "1.0.0" });
    client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void logs.push(String(n.params.data)));
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }

  const call = (c: Client, name: string, args: Record<string, unknown> = {}) => c.callTool({ name, arguments: args }, undefined, { timeout: 90_000 }) as Promise<CallToolResult>;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  const rowsOf = (r: CallToolResult) => JSON.parse(text(r).replace(/^[^{[]*/, "")).rows as Record<string, string | null>[];

  const pendingApproval = async (match: (a: Rec) => boolean): Promise<number> => (await heldApproval(gh, t.approver, match)).id;

  beforeAll(async () => {
    gh = await startGatehouse();
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test");
    t.approver = await addApprover(gh, t.admin);
    const agent = await exchange(t.dev, "claude");
    t.agent = agent.access_token;
    t.agentId = agent.token_id;
    t.sub = (await exchange(t.agent, "helper")).access_token;
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await teardown(gh);
  });

  it("refuses requests without a valid bearer token (401 + Bearer challenge); cookies do not count", async () => {
    const init = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } });
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const none = await fetch(`${gh.url}/api/mcp`, { method: "POST", headers, body: init });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toMatch(/^Bearer realm="gatehouse"/);
    const bad = await fetch(`${gh.url}/api/mcp`, { method: "POST", headers: { ...headers, authorization: "Bearer not.a.valid-token-at-all" }, body: init });
    expect(bad.status).toBe(401);
    expect(bad.headers.get("www-authenticate")).toMatch(/error="invalid_token"/);
    expect((await fetch(`${gh.url}/api/mcp`, { method: "GET" })).status).toBe(401);
    // the SDK client without a token cannot even initialize
    await expect(new Client({ name: "anon", version: "1" }).connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`)))).rejects.toThrow();
  });

  it("lists the tools and the connections the token's scope allows, without upstream secrets", async () => {
    const c = await mcp(t.agent);
    expect((await c.listTools()).tools.map((x) => x.name).sort()).toEqual(["list_connections", "request_access", "run_sql", "run_ssh_command", "wait_for_approval"]);
    const res = await call(c, "list_connections");
    const { connections } = JSON.parse(text(res));
    expect(connections).toContainEqual(expect.objectContaining({ name: "demo-postgres", type: "postgres", tags: expect.arrayContaining(["demo"]) }));
    expect(text(res)).not.toMatch(/127\.0\.0\.1|upstream|secret|password/i);
  });

  it("an agent's read comes back masked; the original SSNs and emails never appear", async () => {
    const q = { connection: "demo-postgres", sql: "select name, email, ssn from customers order by id limit 3" };
    const human = await call(await mcp(t.dev), "run_sql", q);
    expect(human.isError).toBeFalsy();
    const original = rowsOf(human);
    expect(original).toHaveLength(3);
    expect(original[0].ssn).toMatch(/^\d{3}-\d{2}-\d{4}$/);

    const res = await call(await mcp(t.agent), "run_sql", q);
    expect(res.isError).toBeFalsy();
    const out = text(res);
    for (const row of original) {
      expect(out).not.toContain(row.ssn);
      expect(out).not.toContain(row.email);
    }
    const masked = rowsOf(res);
    expect(masked.map((r) => r.name)).toEqual(original.map((r) => r.name));
    expect(masked.every((r) => r.ssn === "[REDACTED]")).toBe(true);
    expect(out).toMatch(/values masked by policy/);

    // Several statements run as the one string that was classified and decided; each is masked.
    const multi = await call(await mcp(t.agent), "run_sql", { connection: "demo-postgres", sql: "select 1 as one; select upper(ssn) as s from customers order by id limit 1" });
    expect(multi.isError).toBeFalsy();
    const sets = JSON.parse(text(multi).replace(/^[^[]*/, ""));
    expect(sets).toHaveLength(2);
    expect(sets[1].rows[0].s).not.toContain(original[0].ssn!);
  });

  it("a depth-2 agent's write is held until an approver approves it over REST, then runs", async () => {
    const logs: string[] = [];
    const c = await mcp(t.sub, logs);
    const sql = "update customers set country = 'NL' where id = 1";
    const pending = call(c, "run_sql", { connection: "demo-postgres", sql });
    const id = await pendingApproval((a) => a.request.text === sql);
    const approved = await apiCall(gh.url, t.approver, "POST", `/approvals/${id}/approve`, { comment: "ok" });
    expect(approved.status).toBe(200);
    const res = await pending;
    expect(res.isError).toBeFalsy();
    expect(text(res)).toContain(`held for approval #${id}`);
    expect(text(res)).toMatch(/UPDATE/);
    expect(logs.join("\n")).toContain(`held for approval #${id}`);
    const check = await call(await mcp(t.dev), "run_sql", { connection: "demo-postgres", sql: "select country from customers where id = $1", params: [1] });
    expect(rowsOf(check)).toEqual([{ country: "NL" }]);
  });

  it("a held call that outlives wait_seconds is collected with wait_for_approval, by the same token only", async () => {
    const c = await mcp(t.sub);
    const sql = "update customers set country = 'BE' where id = 2";
    const first = await call(c, "run_sql", { connection: "demo-postgres", sql, wait_seconds: 1 });
    expect(first.isError).toBeFalsy();
    const id = Number(/held for approval #(\d+)/.exec(text(first))?.[1]);
    expect(id).toBeGreaterThan(0);
    expect(text(first)).toContain("wait_for_approval");

    const other = await call(await mcp(t.approver), "wait_for_approval", { approval_id: id, timeout_seconds: 0 });
    expect(other).toMatchObject({ isError: true });
    expect(text(other)).toMatch(/NOT_FOUND/);
    expect(text(await call(c, "wait_for_approval", { approval_id: id, timeout_seconds: 1 }))).toMatch(/still pending/);

    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${id}/approve`, {})).status).toBe(200);
    const done = await call(c, "wait_for_approval", { approval_id: id, timeout_seconds: 30 });
    expect(done.isError).toBeFalsy();
    expect(text(done)).toContain(`held for approval #${id}, approved`);
    expect(text(done)).toMatch(/UPDATE/);
  });

  it("a statement a forbid policy matches is refused with the policy's reason", async () => {
    const current = await apiCall(gh.url, t.admin, "GET", "/policies");
    const forbid = `\n@id("no-orders-for-agents")\n@reason("orders are off limits to agents")\nforbid (principal is Gatehouse::Agent, action, resource)\nwhen { context.request.tables.contains("orders") };\n`;
    expect((await apiCall(gh.url, t.admin, "PUT", "/policies", { text: current.body.policy.text + forbid, comment: "mcp test" })).status).toBe(200);
    const c = await mcp(t.agent);
    let res: CallToolResult | null = null;
    for (let i = 0; i < 50; i++) {
      res = await call(c, "run_sql", { connection: "demo-postgres", sql: "select * from orders limit 1" });
      if (res.isError) break;
      await new Promise((r) => setTimeout(r, 100)); // the new policy version loads via the event bus
    }
    expect(res!.isError).toBe(true);
    expect(text(res!)).toContain("orders are off limits to agents");
  });

  it("run_ssh_command is for ssh connections; an unreachable upstream is an UPSTREAM error (execution: mcp-ssh.test.ts)", async () => {
    expect((await apiCall(gh.url, t.admin, "POST", "/connections", { name: "web-1", type: "ssh", upstream: "ssh://127.0.0.1:22", username: "deploy" })).status).toBe(200);
    const c = await mcp(t.agent);
    // `uptime` is a read for the SSH command classifier: allowed, then the upstream is tried.
    const res = await call(c, "run_ssh_command", { connection: "web-1", command: "uptime" });
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/^UPSTREAM: /);
    expect(text(res)).not.toContain("127.0.0.1");
    expect(text(await call(c, "run_ssh_command", { connection: "demo-postgres", command: "uptime" }))).toMatch(/INVALID/);
  });

  it("request_access creates a JIT request that wait_for_approval follows to its grant", async () => {
    const c = await mcp(t.agent);
    const asked = await call(c, "request_access", { connection: "demo-postgres", duration_minutes: 30, reason: "mcp test access" });
    expect(asked.isError).toBeFalsy();
    const id = Number(/access request #(\d+) is pending/.exec(text(asked))?.[1]);
    expect(id).toBeGreaterThan(0);
    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${id}/approve`, {})).status).toBe(200);
    const waited = await call(c, "wait_for_approval", { approval_id: id, timeout_seconds: 10 });
    expect(text(waited)).toMatch(new RegExp(`approval #${id} is approved`));
    expect(JSON.parse(text(waited).replace(/^[^{]*/, ""))).toMatchObject({ status: "approved", grant: { id: expect.any(String) } });
  });

  it("records MCP sessions with their events", async () => {
    const list = await apiCall(gh.url, t.admin, "GET", "/sessions?origin=mcp");
    expect(list.status).toBe(200);
    const sessions = list.body.sessions as { id: string; protocol: string; origin: string; connectionName: string; chain: { name: string }[]; status: string }[];
    expect(sessions.length).toBeGreaterThan(3);
    // the connection's protocol, as a native client's session (policies on client.protocol apply alike)
    expect(sessions.every((s) => s.origin === "mcp" && s.protocol === (s.connectionName === "web-1" ? "ssh" : "postgres"))).toBe(true);
    const held = sessions.filter((s) => s.chain.map((a) => a.name).join(">") === "dev@example.test>claude>helper");
    expect(held.length).toBeGreaterThanOrEqual(2);
    const events = (await apiCall(gh.url, t.admin, "GET", `/sessions/${held[held.length - 1].id}/events`)).body.events as { kind: string; payload: Record<string, unknown> }[];
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(["connect", "request", "held", "approval", "result", "end"]));
    expect(events.find((e) => e.kind === "request")?.payload).toMatchObject({ kind: "write", text: "update customers set country = 'NL' where id = 1", verdict: "hold" });
    // the agent's masked read recorded masked values only
    const reads = await Promise.all(sessions.map((s) => apiCall(gh.url, t.admin, "GET", `/sessions/${s.id}/events`)));
    const recorded = JSON.stringify(reads.map((r) => r.body.events));
    expect(recorded).toContain("[REDACTED]");
  });

  it("a revoked token is refused on the next call", async () => {
    const c = await mcp(t.agent);
    expect((await call(c, "list_connections")).isError).toBeFalsy();
    expect((await apiCall(gh.url, t.dev, "DELETE", `/tokens/${t.agentId}`)).status).toBe(200);
    await expect(call(c, "list_connections")).rejects.toThrow(/401|unauthori[sz]ed|revoked/i);
  });
});
