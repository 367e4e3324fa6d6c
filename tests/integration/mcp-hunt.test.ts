import { execFileSync } from "node:child_process";
import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { startSshd, type Sshd } from "../support/sshd";
import { addApprover, addConnection, addUser, pgUpstream, type Rec, sshUpstream } from "../support/api-fixture";

/**
 * The MCP endpoint attacked as a hostile agent would: the SDK's own client (and raw HTTP where
 * the SDK would not send such bytes) against a real Gatehouse process, a real PostgreSQL 15 and
 * a real OpenSSH sshd. Each test about a hole failed before its fix; the baseline, the open
 * transaction, the request bounds and the client address tests pin down what already held.
 *
 * The masked column is accounts.password_hash, masked whole for agents by the shipped "pii" rule
 * set (`*.password*`, default policy `agents-masked`); its values look like nothing a detector
 * knows, so only the column rule can catch them, also when a query transforms them.
 */

/** run_sql's statement timeout here (GATEHOUSE_MCP_STATEMENT_TIMEOUT_MS; 30 s by default) */
const STATEMENT_TIMEOUT_MS = 8_000;

const SECRETS = ["pbkdf2$Zq9xK7mWvT", "argon2$Lr4pN8sYhQ"];
/** how the values can come back changed: whole, reversed, in pieces */
const FORMS = SECRETS.flatMap((s) => [s, [...s].reverse().join(""), s.slice(0, 7), s.slice(7)]);

describe("MCP endpoint bypass hunt", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let sshd: Sshd;
  let direct: postgres.Sql;
  const t = { admin: "", dev: "", approver: "", agent: "", sub: "" };
  const clients: Client[] = [];

  async function mcp(token: string) {
    const client = new Client({ name: "mcp-hunt", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client;
  }
  const call = async (token: string, name: string, args: Rec) => (await mcp(token)).callTool({ name, arguments: args }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
  const sql = (token: string, text: string, extra: Rec = {}) => call(token, "run_sql", { connection: "hunt-pg", sql: text, ...extra });
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  const expectNoSecret = (out: string, what: string) => {
    for (const s of FORMS) expect(out.includes(s), `${what} leaked ${s}:\n${out.slice(0, 2000)}`).toBe(false);
  };

  /** One JSON-RPC message posted as a browser or a bare agent would, with a valid token. */
  const post = (body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${gh.url}/api/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${t.agent}`, ...headers },
      body: JSON.stringify(body),
    });
  async function until(ok: () => Promise<boolean>, ms = 15_000) {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error("timed out waiting");
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } };

  beforeAll(async () => {
    // one agent's share of its agents' pool is the whole pool here: the slot test below is about the pool (identity-hunt3 tests the share)
    [gh, pg15, sshd] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_MCP_MAX_CALLS_PER_AGENT: "16", GATEHOUSE_MCP_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS) } }), startPostgres15(), startSshd()]);
    direct = postgres(pg15.url, { max: 2, onnotice: () => {} });
    await direct.unsafe(`create table accounts (id int primary key, login text, password_hash text);
      insert into accounts values (1, 'alice', '${SECRETS[0]}'), (2, 'bob', '${SECRETS[1]}');`);
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test");
    t.approver = await addApprover(gh, t.admin);
    t.agent = (await exchangeToken(gh.url, t.dev, "claude")).access_token;
    t.sub = (await exchangeToken(gh.url, t.agent, "helper")).access_token;
    await addConnection(gh, t.admin, "hunt-pg", { ...pgUpstream(pg15), tags: ["staging"] });
    await addConnection(gh, t.admin, "hunt-box", { ...sshUpstream(sshd), tags: ["staging"] });
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await direct?.end({ timeout: 1 });
    await teardown(gh, pg15, sshd);
  });

  it("the column rule holds for a transformed value (baseline the next tests build on)", async () => {
    const res = await sql(t.agent, "select login, reverse(password_hash) as r from accounts order by id");
    expect(res.isError, text(res)).toBeFalsy();
    expect(text(res)).toContain("alice");
    expectNoSecret(text(res), "one statement");
  });

  it("masks transformed columns in every result of a multi-statement string, also through PREPARE/EXECUTE", async () => {
    for (const q of [
      "select 1 as one; select reverse(password_hash) as r from accounts",
      "select reverse(password_hash) as r from accounts; select 1 as one",
      "select reverse(password_hash) as r from accounts; set application_name = 'x'",
      "begin; declare c cursor for select reverse(password_hash) as r from accounts; fetch all from c; commit",
    ]) {
      const res = await sql(t.agent, q);
      expect(res.isError, `${q}: ${text(res)}`).toBeFalsy();
      expect(text(res)).toContain('"rows"');
      expectNoSecret(text(res), q);
    }
    // the EXECUTE is decided by the PREPARE before it in the same string (a read), not held as unknown
    const prepared = "prepare p as select reverse(password_hash) as r from accounts; execute p";
    const res = await sql(t.agent, prepared);
    expect(res.isError, text(res)).toBeFalsy();
    expect(text(res)).toContain('"rows"');
    expectNoSecret(text(res), prepared);
  });

  it("masks a column's value quoted back in an upstream error message", async () => {
    const res = await sql(t.agent, "select password_hash::int from accounts order by id");
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(/^UPSTREAM: 22P02 invalid input syntax for type integer/);
    expectNoSecret(text(res), "the cast error");
  });

  it("caps the bytes of an answer, not only its rows", async () => {
    const res = await sql(t.dev, "select g, repeat('x', 1048576) as big from generate_series(1, 40) g");
    expect(res.isError, text(res).slice(0, 300)).toBeFalsy();
    const body = text(res);
    expect(body.length).toBeLessThan(1.5 * 1024 * 1024);
    const out = JSON.parse(body.replace(/^[^{[]*/, ""));
    expect(out).toMatchObject({ command: "SELECT", rowCount: 40, truncated: true });
  });

  it("a statement that turns its own timeout off is cancelled upstream, not left running", async () => {
    const started = Date.now();
    const res = await sql(t.dev, "set statement_timeout = 0; select pg_sleep(300)");
    // the timeout, then 5 s more for the statement to give up by itself
    const killedAfter = STATEMENT_TIMEOUT_MS + 5_000;
    expect(Date.now() - started).toBeGreaterThanOrEqual(killedAfter - 100);
    expect(Date.now() - started).toBeLessThan(killedAfter + 20_000);
    expect(res.isError).toBe(true);
    expect(text(res)).toMatch(new RegExp(`ran longer than ${killedAfter / 1000} s and was cancelled`));
    // cancelled upstream, not merely abandoned: the backend stops sleeping
    await until(async () => (await direct`select pid from pg_stat_activity where application_name = 'gatehouse-mcp' and query like '%pg_sleep(300)%' and state = 'active'`).length === 0, 5000);
  }, 90_000);

  it("refuses COPY to or from the client promptly instead of hanging or leaking", async () => {
    for (const q of ["copy accounts to stdout", "select 1; copy (select password_hash from accounts) to stdout", "copy accounts from stdin"]) {
      const started = Date.now();
      const res = await sql(t.agent, q);
      expect(Date.now() - started, q).toBeLessThan(10_000);
      expect(res.isError, q).toBe(true);
      expectNoSecret(text(res), q);
    }
    expect(text(await sql(t.dev, "copy accounts to stdout"))).toMatch(/^INVALID: COPY/);
  });

  it("nothing outlives a call: an open transaction is rolled back, session settings do not carry over", async () => {
    const open = await sql(t.dev, "begin; insert into accounts values (3, 'eve', 'x'); set application_name = 'carried'");
    expect(open.isError, text(open)).toBeFalsy();
    const next = await sql(t.dev, "select count(*)::int as n, current_setting('application_name') as app from accounts");
    expect(JSON.parse(text(next)).rows).toEqual([{ n: "2", app: "gatehouse-mcp" }]);
  });

  it("records every call with origin mcp and the full delegation chain, masked as the agent saw it", async () => {
    const q = "select 1 as one; select reverse(password_hash) as r from accounts";
    expect((await sql(t.sub, q)).isError).toBeFalsy();
    const list = await apiCall(gh.url, t.admin, "GET", "/sessions?origin=mcp");
    const sessions = list.body.sessions as Rec[];
    const mine = sessions.find((s) => s.chain.map((a: Rec) => a.name).join(">") === "dev@example.test>claude>helper");
    expect(mine).toMatchObject({ origin: "mcp", protocol: "postgres", connectionName: "hunt-pg" });
    const events = (await apiCall(gh.url, t.admin, "GET", `/sessions/${mine!.id}/events`)).body.events as Rec[];
    expect(events.find((e) => e.kind === "request")?.payload).toMatchObject({ text: q, verdict: "mask" });
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(["connect", "request", "result", "end"]));
    // no recording of any agent call (rows, samples, error texts) holds a secret
    const agents = sessions.filter((s) => s.chain.length > 1);
    const recorded = await Promise.all(agents.map((s) => apiCall(gh.url, t.admin, "GET", `/sessions/${s.id}/events`)));
    expectNoSecret(JSON.stringify(recorded.map((r) => r.body.events)), "the recording");
  });

  it("bounds the calls one user's agents may have running at once; others are still served", async () => {
    const c = await mcp(t.agent);
    const child = await mcp(t.sub); // a child token shares its human's slots
    const calls = Array.from({ length: 24 }, (_, i) => (i % 2 ? child : c).callTool({ name: "run_sql", arguments: { connection: "hunt-pg", sql: "select pg_sleep(4)" } }, undefined, { timeout: 60_000 }) as Promise<CallToolResult>);
    // the calls start as the machine allows (a fixed wait saw 15 of 16 under load); never more than 16
    let most = 0;
    await until(async () => {
      const [{ n }] = await direct`select count(*)::int as n from pg_stat_activity where application_name = 'gatehouse-mcp' and query like '%pg_sleep(4)%' and state = 'active'`;
      most = Math.max(most, n);
      return n >= 16;
    });
    expect(most).toBe(16);
    const other = await sql(t.admin, "select 1 as one");
    expect(other.isError, text(other)).toBeFalsy();
    const results = await Promise.all(calls);
    const refused = results.filter((r) => r.isError);
    expect(refused).toHaveLength(8);
    for (const r of refused) expect(text(r)).toMatch(/^UNAVAILABLE: 16 calls for dev@example\.test are already running/);
    // the slots come back: the next call runs
    expect((await sql(t.agent, "select 1 as one")).isError).toBeFalsy();
  });

  it("a client that goes away cancels its statement upstream; the recording says so", async () => {
    const c = await mcp(t.dev);
    const pending = c.callTool({ name: "run_sql", arguments: { connection: "hunt-pg", sql: "select pg_sleep(33)" } }, undefined, { timeout: 60_000 }).catch((e: Error) => e);
    const running = () => direct`select pid from pg_stat_activity where application_name = 'gatehouse-mcp' and query = 'select pg_sleep(33)' and state = 'active'`;
    await until(async () => (await running()).length === 1);
    await c.close(); // the SDK aborts the open HTTP request: the agent process went away
    await pending;
    await until(async () => (await running()).length === 0, 5000);
    const list = (await apiCall(gh.url, t.admin, "GET", "/sessions?origin=mcp")).body.sessions as Rec[];
    const events = await Promise.all(list.map(async (s) => (await apiCall(gh.url, t.admin, "GET", `/sessions/${s.id}/events`)).body.events as Rec[]));
    const mine = events.find((e) => e.some((x) => x.kind === "request" && x.payload.text === "select pg_sleep(33)"))!;
    expect(mine.find((e) => e.kind === "result")?.payload).toMatchObject({ error: { code: "57014", message: expect.stringMatching(/MCP client went away/) } });
  });

  it("a call the SDK client cancels (abort or its request timeout) is cancelled upstream, though the cancel arrives at another server", async () => {
    const c = await mcp(t.dev);
    const ac = new AbortController();
    const q = "select pg_sleep(34)";
    const pending = c.callTool({ name: "run_sql", arguments: { connection: "hunt-pg", sql: q } }, undefined, { signal: ac.signal, timeout: 60_000 }).catch((e: Error) => e);
    const running = () => direct`select pid from pg_stat_activity where application_name = 'gatehouse-mcp' and query = ${q} and state = 'active'`;
    await until(async () => (await running()).length === 1);
    ac.abort(); // the client sends notifications/cancelled in a new HTTP request; the call's request stays open
    expect(await pending).toBeInstanceOf(Error);
    await until(async () => (await running()).length === 0, 5000);
    // the same client goes on working
    expect(((await c.callTool({ name: "run_sql", arguments: { connection: "hunt-pg", sql: "select 1 as one" } })) as CallToolResult).isError).toBeFalsy();
  });

  it("a client that goes away kills its SSH command upstream; the recording says so", async () => {
    const c = await mcp(t.dev);
    const command = "sleep 43; echo finished";
    const pending = c.callTool({ name: "run_ssh_command", arguments: { connection: "hunt-box", command, timeout_seconds: 120 } }, undefined, { timeout: 120_000 }).catch((e: Error) => e);
    const sleeping = () => {
      try {
        return execFileSync("pgrep", ["-u", sshd.user, "-f", "^sleep 43$"], { encoding: "utf8" }).trim() !== "";
      } catch {
        return false; // pgrep exits 1 when nothing matches
      }
    };
    await until(async () => sleeping());
    await c.close();
    await pending;
    await until(async () => !sleeping(), 10_000);
    // The result is recorded as the session winds down, maybe after the process is gone.
    const result = async () => {
      const list = (await apiCall(gh.url, t.admin, "GET", "/sessions?origin=mcp")).body.sessions as Rec[];
      const events = await Promise.all(list.map(async (s) => (await apiCall(gh.url, t.admin, "GET", `/sessions/${s.id}/events`)).body.events as Rec[]));
      const mine = events.find((e) => e.some((x) => x.kind === "request" && x.payload.text === command));
      return mine?.find((e) => e.kind === "result")?.payload;
    };
    await expect.poll(result, { timeout: 10_000, interval: 250 }).toMatchObject({ cancelled: true });
  });

  it("a NUL byte is refused before policy, as on the native exec path: no approval is asked for what could never run as shown", async () => {
    const marker = `/tmp/gh-mcp-nul-${Date.now()}`;
    const command = `true\0; touch ${marker}`;
    const res = await call(t.agent, "run_ssh_command", { connection: "hunt-box", command, wait_seconds: 1 });
    expect(res.isError, text(res)).toBe(true);
    expect(text(res)).toBe("DENIED: the command contains a NUL byte");
    expect(fs.existsSync(marker)).toBe(false);
    const stmt = await sql(t.agent, "select 1\0; drop table accounts", { wait_seconds: 1 });
    expect(text(stmt)).toBe("DENIED: the SQL contains a NUL byte");
    const pending = (await apiCall(gh.url, t.approver, "GET", "/approvals?status=pending")).body.approvals as Rec[];
    expect(pending.filter((a) => String(a.request?.text ?? "").includes("touch") || String(a.request?.text ?? "").includes("drop table"))).toEqual([]);
  });

  it("bounds what one HTTP request may carry; no session id to hijack; GET and DELETE are refused", async () => {
    const big = await fetch(`${gh.url}/api/mcp`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", authorization: `Bearer ${t.agent}` },
      body: JSON.stringify({ ...initialize, params: { ...initialize.params, pad: "x".repeat(5 << 20) } }),
    });
    expect(big.status).toBe(413);
    const batch = await post(Array.from({ length: 101 }, (_, i) => ({ jsonrpc: "2.0", id: i + 1, method: "tools/list" })));
    expect(batch.status).toBe(400);
    const ok = await post(initialize, { "mcp-session-id": "forged-session" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("mcp-session-id")).toBeNull();
    for (const method of ["GET", "DELETE"]) {
      const res = await fetch(`${gh.url}/api/mcp`, { method, headers: { authorization: `Bearer ${t.agent}`, accept: "text/event-stream" } });
      expect(res.status, method).toBe(405);
    }
  });

  it("records the socket's address, not one the agent claims in headers", async () => {
    const client = new Client({ name: "mcp-hunt-spoof", version: "1.0.0" });
    const headers = { authorization: `Bearer ${t.agent}`, "x-forwarded-for": "10.9.9.9", "x-gatehouse-peer": "10.8.8.8" };
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers } }));
    clients.push(client);
    const q = "select 'spoof-check' as s";
    expect(((await client.callTool({ name: "run_sql", arguments: { connection: "hunt-pg", sql: q } })) as CallToolResult).isError).toBeFalsy();
    const list = (await apiCall(gh.url, t.admin, "GET", "/sessions?origin=mcp")).body.sessions as Rec[];
    const events = await Promise.all(list.map(async (s) => ({ s, events: (await apiCall(gh.url, t.admin, "GET", `/sessions/${s.id}/events`)).body.events as Rec[] })));
    const mine = events.find((x) => x.events.some((e) => e.kind === "request" && e.payload.text === q))!;
    expect(mine.s.clientAddress).toBe("127.0.0.1");
  });

  it("refuses browser origins it does not serve (DNS rebinding), and still serves agents without one", async () => {
    const evil = await post(initialize, { origin: "http://evil.example" });
    expect(evil.status).toBe(403);
    const opaque = await post(initialize, { origin: "null" });
    expect(opaque.status).toBe(403);
    const agent = await post(initialize);
    expect(agent.status).toBe(200);
    const own = await post(initialize, { origin: new URL(gh.url).origin });
    expect(own.status).toBe(200);
  });
});
