import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { jsonOf, runCli } from "../support/cli";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { putPolicies } from "../support/api-fixture";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { appendTerminalEvents, endTerminalSession, insertTerminalSession, type TermEvent } from "../support/terminal-sessions";

/**
 * Follow-ups of the recording hunt on what the audit log keeps: approval evidence outliving the
 * connection it was for, reads of recordings (exports, replays, live views) on record, a flood of
 * failed authentications bounded without losing any, and server-held text the CLI prints. A real
 * Gatehouse process on PostgreSQL 15 (its migrations included), real postgres.js clients through
 * its PostgreSQL listener, the real `gatehouse` CLI.
 */
const POLICIES = `${DEFAULT_POLICIES}
@id("jit")
@reason("this connection needs an access grant")
forbid (principal, action == Gatehouse::Action::"connect", resource)
when { resource.tags.contains("jit") && !context.grants.active };
`;
const PASSWORD = "a-long-password-1";
const WINDOW_MS = 3000;
const BURST = 2;

type Row = Record<string, any>;

describe("audit follow-ups: deleted connections, recording reads, refusal floods, CLI text", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let sql: postgres.Sql;
  const tokens: Record<string, string> = {};
  const ids: Record<string, string> = {};
  const upstream = () => ({ type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test" });
  const cli = (token: string, args: string[]) => runCli(args, { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token } });

  beforeAll(async () => {
    pg = await startPostgres15();
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: pg.url, GATEHOUSE_AUTH_FAILURE_WINDOW_MS: String(WINDOW_MS), GATEHOUSE_AUTH_FAILURE_BURST: String(BURST) } });
    sql = postgres(pg.url, { max: 2, onnotice: () => {} });
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    for (const [name, role, groups] of [["alice", "member", []], ["april", "approver", ["approvers"]], ["audrey", "auditor", []]] as const) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/users", { email: `${name}@example.test`, password: PASSWORD, role, groups });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids[name] = res.body.user.id;
      tokens[name] = await login(gh.url, `${name}@example.test`, PASSWORD);
    }
    expect((await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: POLICIES, comment: "jit" })).status).toBe(200);
    for (const [name, tags] of [["doomed", ["jit"]], ["ledger", []]] as const) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, tags, ...upstream() });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    await sql?.end();
    await teardown(gh, pg);
  });

  /** A statement run as `user` through Gatehouse's PostgreSQL listener on `connection`. */
  const through = async (connection: string, user: string, password: string, statement = "select 1 as one") => {
    const client = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: connection, username: user, password, max: 1, onnotice: () => {}, connect_timeout: 10 });
    try {
      return await client.unsafe(statement);
    } finally {
      await client.end({ timeout: 1 }).catch(() => {});
    }
  };
  const auditRows = async (where: { action: string | string[]; subject?: string; sinceSeq: number }) =>
    (await sql`select seq, action, subject, actor_email, detail from audit_log
      where seq > ${where.sinceSeq} and action = any(${[where.action].flat()}) and (${where.subject ?? null}::text is null or subject = ${where.subject ?? null})
      order by seq`) as Row[];
  const headSeq = async () => Number((await sql`select coalesce(max(seq), 0) as seq from audit_log`)[0].seq);

  describe("a deleted connection's approvals", () => {
    it("keeps its requests, decisions and grants, says the connection is gone, and none of them grants access to a new connection of the same name", async () => {
      // A grant on doomed, approved by april: alice gets in with it.
      const asked = apiCall(gh.url, tokens.alice, "POST", "/access-requests", { connection: "doomed", durationSeconds: 600, reason: "INC-1 disk", wait: 20 });
      let pending: Row | undefined;
      await expect.poll(async () => (pending = ((await apiCall(gh.url, tokens.april, "GET", "/approvals?status=pending")).body.approvals as Row[]).find((a) => a.reason === "INC-1 disk")), { timeout: 10_000 }).toBeTruthy();
      expect((await apiCall(gh.url, tokens.april, "POST", `/approvals/${pending!.id}/approve`, { comment: "go" })).status).toBe(200);
      const granted = (await asked).body;
      expect(granted.status).toBe("approved");
      expect(await through("doomed", "alice@example.test", tokens.alice)).toEqual([{ one: 1 }]);
      // A second request, still pending when the connection goes.
      const second = await apiCall(gh.url, tokens.alice, "POST", "/access-requests", { connection: "doomed", durationSeconds: 900, reason: "INC-2 later" });
      expect(second.status, JSON.stringify(second.body)).toBe(200);
      const secondId = second.body.approval.id as number;

      expect((await apiCall(gh.url, tokens.admin, "DELETE", "/connections/doomed")).status).toBe(200);

      // The evidence stays, in the API...
      const first = await apiCall(gh.url, tokens.admin, "GET", `/approvals/${pending!.id}`);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      const kept = first.body.approval ?? first.body;
      expect(kept).toMatchObject({ connection: "doomed", connectionDeleted: true, status: "approved", requester: "alice@example.test", reason: "INC-1 disk" });
      expect(kept.decisions).toEqual([expect.objectContaining({ approver: "april@example.test", decision: "approve", comment: "go" })]);
      expect(kept.grant).toMatchObject({ id: granted.grant.id, connectionId: null });
      expect(kept.grant.revokedAt).toBeTruthy();
      const later = await apiCall(gh.url, tokens.admin, "GET", `/approvals/${secondId}`);
      expect((later.body.approval ?? later.body).status).toBe("cancelled");
      const grants = (await apiCall(gh.url, tokens.admin, "GET", "/grants")).body.grants as Row[];
      expect(grants.find((g) => g.id === granted.grant.id)).toMatchObject({ connection: "doomed", connectionId: null, active: false });
      // ...in the CLI...
      const listed = await cli(tokens.admin, ["approvals", "list", "--status", "all"]);
      expect(listed.code, listed.stderr).toBe(0);
      expect(listed.stdout).toContain("doomed (deleted)");
      // ...and in the audit log, with what the deletion ended.
      const [deletion] = await auditRows({ action: "connection.delete", subject: "connection:doomed", sinceSeq: 0 });
      expect(deletion.detail).toMatchObject({ cancelledApprovals: [secondId], revokedGrants: [granted.grant.id] });

      // Nothing left of it decides or grants anything: the pending one cannot be approved, and a
      // new connection of the same name is not reached with the old grant.
      expect((await apiCall(gh.url, tokens.april, "POST", `/approvals/${secondId}/approve`, {})).status).toBe(409);
      expect((await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "doomed", tags: ["jit"], ...upstream() })).status).toBe(200);
      await expect(through("doomed", "alice@example.test", tokens.alice)).rejects.toThrow(/needs an access grant/);
      expect(((await apiCall(gh.url, tokens.admin, "GET", "/grants?active=1")).body.grants as Row[]).filter((g) => g.connection === "doomed")).toEqual([]);
    });
  });

  describe("reading a recording", () => {
    const READS = ["session.export", "session.replay", "session.watch"];
    let terminal = "";
    let query = "";

    beforeAll(async () => {
      let seq = 0;
      const ev = (kind: string, payload: Record<string, unknown>): TermEvent => ({ seq: ++seq, tMs: seq * 100, kind, payload });
      terminal = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test", connection: "web-host" });
      await appendTerminalEvents(sql, terminal, [
        ev("connect", { connection: "web-host" }),
        ev("term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm-256color" }),
        ...Array.from({ length: 40 }, (_, i) => ev("term.o", { ch: 0, d: `line ${i}\r\n` })),
        ev("term.exit", { ch: 0, code: 0 }),
      ]);
      await endTerminalSession(sql, terminal);
      await through("ledger", "alice@example.test", tokens.alice, "select 42 as answer");
      // the session ends as the client leaves (expect.poll is for tests, not hooks)
      for (let i = 0; i < 100 && !query; i++) {
        query = ((await apiCall(gh.url, tokens.admin, "GET", "/sessions")).body.sessions as Row[]).find((s) => s.connectionName === "ledger" && s.status !== "live")?.id ?? "";
        if (!query) await new Promise((r) => setTimeout(r, 100));
      }
      expect(query).not.toBe("");
    });

    it("an export through the API or the CLI is one audit row each: who, which session, which format, how", async () => {
      const before = await headSeq();
      const res = await fetch(`${gh.url}/api/v1/sessions/${query}/export?format=jsonl`, { headers: { authorization: `Bearer ${tokens.audrey}` } });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain("select 42");
      const out = await cli(tokens.admin, ["sessions", "export", terminal, "--format", "asciicast"]);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stdout).toContain("line 39");
      const rows = await auditRows({ action: READS, sinceSeq: before });
      expect(rows).toEqual([
        expect.objectContaining({ action: "session.export", subject: `session:${query}`, actor_email: "audrey@example.test", detail: expect.objectContaining({ format: "jsonl", via: "api", owner: "alice@example.test", connection: "ledger" }) }),
        expect.objectContaining({ action: "session.export", subject: `session:${terminal}`, actor_email: gh.adminEmail, detail: expect.objectContaining({ format: "asciicast", ch: 0, via: "api", client: "gatehouse-cli" }) }),
      ]);
    });

    it("opening a replay is one row, not one per window it fetches; fetching windows without opening is on record too", async () => {
      const before = await headSeq();
      // what the console's player asks for: the timeline, the channel's index, then windows
      expect((await apiCall(gh.url, tokens.admin, "GET", `/sessions/${terminal}/replay/timeline`)).status).toBe(200);
      const index = await apiCall(gh.url, tokens.admin, "GET", `/sessions/${terminal}/replay?ch=0`);
      expect(index.status, JSON.stringify(index.body)).toBe(200);
      for (let from = 0; from < 4000; from += 1000) expect((await apiCall(gh.url, tokens.admin, "GET", `/sessions/${terminal}/replay?ch=0&from=${from}&span=1000`)).status).toBe(200);
      // audrey skips the index and pages through the windows, then a query session's events
      for (let from = 0; from < 4000; from += 1000) expect((await apiCall(gh.url, tokens.audrey, "GET", `/sessions/${terminal}/replay?ch=0&from=${from}&span=1000`)).status).toBe(200);
      for (const after of [0, 1, 2]) expect((await apiCall(gh.url, tokens.audrey, "GET", `/sessions/${query}/events?after=${after}&limit=1`)).status).toBe(200);
      // the commands typed, without the screen, are the recording too (alice reads her own)
      expect((await apiCall(gh.url, tokens.alice, "GET", `/sessions/${terminal}/replay/timeline`)).status).toBe(200);
      const rows = await auditRows({ action: READS, sinceSeq: before });
      expect(rows.map((r) => [r.action, r.subject, r.actor_email])).toEqual([
        ["session.replay", `session:${terminal}`, gh.adminEmail],
        ["session.replay", `session:${terminal}`, "audrey@example.test"],
        ["session.replay", `session:${query}`, "audrey@example.test"],
        ["session.replay", `session:${terminal}`, "alice@example.test"],
      ]);
    });

    it("opening a live view is one row, written before the socket sends anything", async () => {
      const live = await insertTerminalSession(sql, { userId: ids.alice, userEmail: "alice@example.test", connection: "web-host" });
      const before = await headSeq();
      const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/sessions/${live}`, { headers: { authorization: `Bearer ${tokens.admin}` } });
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      await expect.poll(() => auditRows({ action: READS, sinceSeq: before })).toEqual([
        expect.objectContaining({ action: "session.watch", subject: `session:${live}`, actor_email: gh.adminEmail, detail: expect.objectContaining({ via: "api", live: true }) }),
      ]);
      ws.close();
      await endTerminalSession(sql, live);
    });
  });

  describe("a flood of failed authentications", () => {
    it("costs a bounded number of rows per address and claim, never loses a new claim's first failure, and keeps the count", async () => {
      const before = await headSeq();
      for (let i = 0; i < 40; i++) expect((await apiCall(gh.url, `not-a-token-${i}`, "GET", `/sessions?n=${i}`)).status).toBe(401);
      for (let i = 0; i < 10; i++) await expect(through("ledger", "alice@example.test", `wrong-${i}`)).rejects.toThrow();
      // a claim not seen before, in the middle of the flood: written at once
      const fresh = await fetch(`${gh.url}/api/v1/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ email: "mallory@example.test", password: "guess" }) });
      expect(fresh.status).toBe(401);
      const failed = ["api.auth_failed", "gateway.auth_failed", "auth.login_failed"];
      const now = await auditRows({ action: failed, sinceSeq: before });
      expect(now.filter((r) => r.action === "api.auth_failed")).toHaveLength(BURST);
      expect(now.filter((r) => r.action === "gateway.auth_failed")).toHaveLength(BURST);
      expect(now.filter((r) => r.action === "auth.login_failed").map((r) => r.subject)).toEqual(["user:mallory@example.test"]);
      // once the window is over, the rest is one row per claim, with its count
      await expect
        .poll(async () => (await auditRows({ action: failed, sinceSeq: before })).filter((r) => r.detail.repeated).map((r) => [r.action, r.detail.repeated, r.detail.address]), { timeout: WINDOW_MS * 4, interval: 500 })
        .toEqual(expect.arrayContaining([["api.auth_failed", 40 - BURST, "127.0.0.1"], ["gateway.auth_failed", 10 - BURST, "127.0.0.1"]]));
      const all = await auditRows({ action: failed, sinceSeq: before });
      expect(all).toHaveLength(2 * BURST + 1 + 2);
      expect(JSON.stringify(all)).not.toContain("not-a-token");
      const verify = await cli(tokens.admin, ["audit", "verify", "--json"]);
      expect(verify.code, verify.stderr).toBe(0);
      expect(jsonOf(verify.stdout)).toMatchObject({ ok: true });
    });
  });

  describe("server-held text the CLI prints", () => {
    it("policies get shows control characters of the policy text inert on a terminal; --json keeps the exact text", async () => {
      const hostile = `${DEFAULT_POLICIES}\n// ops note \x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07\x1b]0;pwned\x07\x1b[6n\x9b31m end\n`;
      await putPolicies(gh, tokens.admin, hostile, "note");
      const shown = await cli(tokens.admin, ["policies", "get"]);
      expect(shown.code, shown.stderr).toBe(0);
      expect(shown.stdout).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
      expect(shown.stdout).toContain("// ops note \\x1b]52;c;");
      expect(shown.stdout).toContain('@id("prod-write-approval")');
      const exact = await cli(tokens.admin, ["policies", "get", "--json"]);
      expect(jsonOf(exact.stdout).policy.text).toBe(hostile);
      expect((await apiCall(gh.url, tokens.admin, "PUT", "/policies", { text: POLICIES, comment: "back" })).status).toBe(200);
    });
  });
});
