import { spawn } from "node:child_process";
import postgres from "postgres";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";


/**
 * The nested-agent scenario end to end with real clients: a user's token → an agent token →
 * two child tokens; the agent and both children connect with psql/postgres-js; the children's
 * sessions hang under the agent's; a depth-2 write is held; a reused ticket is refused; and
 * revoking the agent's token ends both children's live sessions.
 */
describe("nested agents through the PostgreSQL gateway", () => {
  let gh: GatehouseProcess;
  let admin: string;
  const USER = "dev@example.test";
  const open: postgres.Sql[] = [];

  const connect = (token: string) => {
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: USER, password: token, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "agent" } });
    open.push(sql);
    return sql;
  };
  const psql = (token: string, statement: string) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const p = spawn("psql", [`host=127.0.0.1 port=${gh.ports.postgres} dbname=demo-postgres user=${USER} sslmode=disable`, "-X", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", statement], { env: { ...process.env, PGPASSWORD: token } });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  const exchange = (subject: string, actor: string) => exchangeToken(gh.url, subject, actor);

  beforeAll(async () => {
    gh = await startGatehouse();
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await apiCall(gh.url, admin, "POST", "/users", { email: USER, password: "dev-password-123", role: "member" });
  });
  afterAll(async () => {
    await Promise.allSettled(open.map((s) => s.end({ timeout: 1 })));
    await teardown(gh);
  });

  it("children sessions form a tree under the agent, depth-2 writes are held, revoking the agent ends them", async () => {
    const user = (await apiCall(gh.url, await login(gh.url, USER, "dev-password-123"), "POST", "/tokens", { name: "root", ttlSeconds: 7200 })).body.token as string;
    const agent = await exchange(user, "claude");
    const agentSql = connect(agent.access_token);
    expect((await agentSql`select count(*)::int as n from customers`)[0].n).toBe(48);

    const [c1, c2] = [await exchange(agent.access_token, "researcher"), await exchange(agent.access_token, "writer")];
    expect([c1.depth, c2.depth]).toEqual([2, 2]);
    const s1 = connect(c1.access_token);
    const s2 = connect(c2.access_token);
    const rows = await s1`select email, ssn from customers order by id limit 2`;
    // Agents' reads are masked by the shipped policies (rule set "pii").
    expect(rows[0].ssn).not.toMatch(/^\d{3}-\d{2}-\d{4}$/);
    await s2`select 1`;

    // Lineage: both children's sessions hang under the agent's live session.
    await new Promise((r) => setTimeout(r, 300));
    const sessions = (await apiCall(gh.url, admin, "GET", "/sessions?protocol=postgres&status=live")).body.sessions as { id: string; chain: { name: string }[]; parentSessionId: string | null }[];
    const agentSession = sessions.find((s) => s.chain.map((a) => a.name).join("/") === `${USER}/claude`)!;
    const children = sessions.filter((s) => s.parentSessionId === agentSession.id);
    expect(children.map((s) => s.chain.at(-1)!.name).sort()).toEqual(["researcher", "writer"]);

    // Live view is checked per object: the session's own user and auditors may follow it, others may not.
    await apiCall(gh.url, admin, "POST", "/users", { email: "other@example.test", password: "other-password-1", role: "member" });
    const other = await login(gh.url, "other@example.test", "other-password-1");
    const owner = await login(gh.url, USER, "dev-password-123");
    const follow = (token: string, onOpen?: () => void) =>
      new Promise<number | string>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/sessions/${agentSession.id}`, { headers: { authorization: `Bearer ${token}` } });
        ws.on("unexpected-response", (_q, res) => resolve(res.statusCode ?? 0));
        ws.on("open", () => (onOpen?.(), ws.once("message", (m) => (ws.close(), resolve(String(m))))));
        ws.on("error", () => resolve(-1));
      });
    expect(await follow(other)).toBe(403);
    // The server subscribes before it completes the upgrade (one process: no "watching" message
    // to wait for), so once open, the probe's live event reaches this socket.
    let opened!: () => void;
    const isOpen = new Promise<void>((r) => (opened = r));
    const live = follow(owner, opened);
    await Promise.race([isOpen, live]);
    const t = Date.now();
    await agentSql`select 'live-view-probe'`;
    expect(await live).toContain("live-view-probe");
    // reported, not asserted: bench/console/run.ts measures live-view delay against its 200 ms target
    console.log(`[agents-scenario] statement → live-view socket: ${Date.now() - t} ms`);

    // A write from depth 2 is held (psql prints the notice); deny it from the API.
    const held = psql(c2.access_token, "update customers set country = 'XX' where id = 1");
    let approvalId: number | undefined;
    for (let i = 0; i < 100 && !approvalId; i++) {
      const pending = (await apiCall(gh.url, admin, "GET", "/approvals?status=pending")).body.approvals as { id: number; chain: { name: string }[] }[];
      approvalId = pending.find((a) => a.chain.some((c) => c.name === "writer"))?.id;
      if (!approvalId) await new Promise((r) => setTimeout(r, 100));
    }
    expect(approvalId).toBeTruthy();
    expect((await apiCall(gh.url, admin, "PATCH", `/users/${gh.adminEmail}`, { groups: ["approvers"] })).status).toBe(200);
    const denied = await apiCall(gh.url, admin, "POST", `/approvals/${approvalId}/deny`, { reason: "agents do not write customers" });
    expect(denied.status).toBe(200);
    const out = await held;
    expect(out.stderr).toContain(`held for approval #${approvalId}`);
    expect(out.stderr).toMatch(/ERROR:.*denied by approver/);

    // A connection ticket works once; the second connection with it is refused and audited.
    const ticket = (await apiCall(gh.url, c1.access_token, "POST", "/tokens/ticket", { connection: "demo-postgres" })).body.ticket as string;
    expect((await psql(ticket, "select 1")).code).toBe(0);
    const reuse = await psql(ticket, "select 1");
    expect(reuse.code).not.toBe(0);
    expect(reuse.stderr).toContain("password authentication failed");
    const audit = (await apiCall(gh.url, admin, "GET", "/audit?limit=50")).body.entries as { action: string; detail: { reason?: string } }[];
    expect(audit.some((e) => e.action === "gateway.auth_failed" && e.detail.reason?.includes("already used"))).toBe(true);

    // Revoking the agent's token ends both children's live sessions (and the agent's), promptly
    // (a second is the aim; the bound is loose for a loaded CI machine).
    const t0 = Date.now();
    expect((await apiCall(gh.url, user, "DELETE", `/tokens/${agent.token_id}`)).status).toBe(200);
    const statuses = async () => {
      const after = (await apiCall(gh.url, admin, "GET", "/sessions?protocol=postgres")).body.sessions as { id: string; status: string }[];
      return [agentSession.id, ...children.map((c) => c.id)].map((id) => after.find((s) => s.id === id)?.status);
    };
    await expect.poll(statuses, { timeout: 10_000 }).toEqual(["killed", "killed", "killed"]);
    for (const sql of [agentSql, s1, s2]) await expect(sql`select 1`).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(15_000);
  });

  it("an agent's writes that bring rows back are masked as its reads are (FOR UPDATE, nextval(), UPDATE … RETURNING)", async () => {
    const user = (await apiCall(gh.url, await login(gh.url, USER, "dev-password-123"), "POST", "/tokens", { name: "root-2", ttlSeconds: 600 })).body.token as string;
    const sql = connect((await exchange(user, "claude-2")).access_token);
    const SSN = /^\d{3}-\d{2}-\d{4}$/;
    const reads = await sql`select ssn from customers where id = 1`;
    expect(reads[0].ssn).not.toMatch(SSN);
    // Each is classified a write (it locks rows, advances a sequence, changes a row): before, the
    // shipped policies masked only an agent's reads, and each of these returned the SSN as stored.
    for (const rows of [
      await sql`select ssn from customers where id = 1 for update`,
      await sql`select ssn, nextval('orders_id_seq') from customers where id = 1`,
      await sql`update customers set country = country where id = 1 returning ssn`,
    ]) {
      expect(rows).toHaveLength(1);
      expect(rows[0].ssn).toBe(reads[0].ssn);
    }
  });

  it("a gateway session ends when its token expires", async () => {
    const user = (await apiCall(gh.url, await login(gh.url, USER, "dev-password-123"), "POST", "/tokens", { name: "short", ttlSeconds: 600 })).body.token as string;
    const short = (await exchangeToken(gh.url, user, "brief", { expires_in: "3" })).access_token;
    const sql = connect(short);
    await sql`select 1`;
    await new Promise((r) => setTimeout(r, 4000));
    await expect(sql`select 1`).rejects.toThrow();
    const sessions = (await apiCall(gh.url, admin, "GET", "/sessions?protocol=postgres")).body.sessions as { chain: { name: string }[]; status: string; endReason: string | null }[];
    const ended = sessions.find((s) => s.chain.at(-1)?.name === "brief");
    expect(ended).toMatchObject({ status: "killed", endReason: "the token of this session expired" });
  });
});
