import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { externalIdentities, users } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { issueLoginCode, redeemLoginCode } from "@/lib/identity/login-code";
import { endConsoleSessions } from "@/lib/services/users/sign-out";
import { unlinkExternalIdentity } from "@/lib/services/users/unlink-external";
import { addApprover, addUser, heldApproval, type Rec } from "../support/api-fixture";
import { jsonOf, runCli } from "../support/cli";
import { consoleSignIn } from "../support/console-cookie";
import { apiCall, exchangeToken, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { startOidcIdp, type OidcIdp } from "../support/oidc-idp";
import { exchangeIdToken, idTokenFor, OIDC_AUDIENCE } from "../support/oidc-exchange";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Identity hunt, second round. External-identity links (issuer + subject → account) can be
 * listed and removed by an admin, through the API, the CLI and the console; removing one ends
 * what was obtained through it.
 */
describe("external identity links: list and unlink", () => {
  let gh: GatehouseProcess;
  let idp: OidcIdp;
  let home: string;
  const t = { admin: "", dev: "", other: "", auditor: "", approver: "", adminAgent: "" };
  const ids = { dev: "", other: "" };

  const identities = (token: string, who: string) => apiCall(gh.url, token, "GET", `/users/${encodeURIComponent(who)}/identities`);
  const unlink = (token: string, who: string, body: unknown) => apiCall(gh.url, token, "DELETE", `/users/${encodeURIComponent(who)}/identities`, body);
  const cli = (args: string[]) => runCli([...args, "--json"], { env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: t.admin } });

  beforeAll(async () => {
    idp = await startOidcIdp({ audience: OIDC_AUDIENCE });
    gh = await startGatehouse({ demo: false, env: { GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_AUDIENCE: OIDC_AUDIENCE, GATEHOUSE_OIDC_GROUPS_CLAIM: "roles" } });
    home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-ident2-"));
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test", { groups: ["console-group"] });
    t.other = await addUser(gh, t.admin, "other@example.test");
    t.auditor = await addUser(gh, t.admin, "auditor@example.test", { role: "auditor" });
    t.approver = await addUser(gh, t.admin, "approver@example.test", { role: "approver" });
    t.adminAgent = (await exchangeToken(gh.url, t.admin, "admin-bot")).access_token;
    const users = (await apiCall(gh.url, t.admin, "GET", "/users")).body.users as Rec[];
    ids.dev = users.find((u) => u.email === "dev@example.test")!.id;
    ids.other = users.find((u) => u.email === "other@example.test")!.id;
    // Both accounts get linked by their first exchange.
    for (const [sub, email] of [["idp-dev", "dev@example.test"], ["idp-other", "other@example.test"]]) {
      const res = await exchangeIdToken(gh.url, await idTokenFor(idp, sub, email, { roles: ["dba"] }));
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await gh?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
    if (home) fs.rmSync(home, { recursive: true, force: true });
    idp?.close();
  });

  it("whoever reads users (admin, auditor, approver) lists a user's links, by id or email; a member or an admin's agent cannot", async () => {
    for (const [token, who] of [[t.admin, ids.dev], [t.admin, "dev@example.test"], [t.auditor, ids.dev], [t.approver, ids.dev]]) {
      const res = await identities(token, who);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.identities).toEqual([expect.objectContaining({ issuer: idp.issuer, subject: "idp-dev", createdAt: expect.any(String) })]);
    }
    expect((await identities(t.dev, ids.dev)).status).toBe(403);
    expect((await identities(t.adminAgent, ids.dev)).status).toBe(403);
    expect((await identities(t.admin, "00000000-0000-0000-0000-000000000000")).status).toBe(404);
    expect((await identities(t.admin, "nobody@example.test")).status).toBe(404);
  });

  it("held: only an admin unlinks, and only the link of the user named: another user's link, a member, an auditor, an agent of an admin are refused", async () => {
    const link = { issuer: idp.issuer, subject: "idp-dev" };
    expect((await unlink(t.dev, ids.dev, link)).status).toBe(403); // even one's own
    expect((await unlink(t.auditor, ids.dev, link)).status).toBe(403);
    expect((await unlink(t.approver, ids.dev, link)).status).toBe(403);
    expect((await unlink(t.adminAgent, ids.dev, link)).status).toBe(403);
    // dev's link named under other's id (and the other way round) is no link of that user
    expect((await unlink(t.admin, ids.other, link)).status).toBe(404);
    expect((await unlink(t.admin, ids.dev, { issuer: idp.issuer, subject: "idp-other" })).status).toBe(404);
    expect((await unlink(t.admin, ids.dev, { issuer: "https://elsewhere.example", subject: "idp-dev" })).status).toBe(404);
    expect((await unlink(t.admin, ids.dev, {})).status).toBe(400);
    expect((await unlink(t.admin, ids.dev, { issuer: idp.issuer, subject: "x".repeat(5000) })).status).toBe(400);
    // a console cookie from another site cannot do it either (CSRF)
    const adminCookie = await consoleSignIn(gh.url, gh.adminEmail, gh.adminPassword);
    const crossSite = await fetch(`${gh.url}/api/v1/users/${ids.dev}/identities`, { method: "DELETE", headers: { cookie: adminCookie.header, origin: "https://evil.example", "content-type": "application/json" }, body: JSON.stringify(link) });
    expect(crossSite.status).toBe(403);
    // nothing moved
    expect((await identities(t.admin, ids.dev)).body.identities).toHaveLength(1);
    expect((await identities(t.admin, ids.other)).body.identities).toHaveLength(1);
  });

  it("unlinking ends what came through the link: console sessions, tokens exchanged from it (and their agents), the groups it synced; audited; a new subject can then link", async () => {
    const cookie = await consoleSignIn(gh.url, "dev@example.test", "a-long-password-1");
    const me = (token: string | null, headers: Record<string, string> = {}) => fetch(`${gh.url}/api/v1/me`, { headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } }).then((r) => r.status);
    expect(await me(null, { cookie: cookie.header })).toBe(200);
    const root = await exchangeIdToken(gh.url, await idTokenFor(idp, "idp-dev", "dev@example.test", { roles: ["dba"] }));
    const agent = await exchangeIdToken(gh.url, await idTokenFor(idp, "idp-dev", "dev@example.test", { roles: ["dba"] }), { actor: "oidc-bot" });
    expect(root.status).toBe(200);
    expect(agent.status).toBe(200);
    expect(await me(root.body.access_token)).toBe(200);
    expect((await apiCall(gh.url, t.admin, "GET", "/users")).body.users.find((u: Rec) => u.email === "dev@example.test").groups).toEqual(["console-group", "dba"]);

    const res = await unlink(t.admin, "dev@example.test", { issuer: idp.issuer, subject: "idp-dev" });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body).toMatchObject({ issuer: idp.issuer, subject: "idp-dev", revokedTokens: expect.any(Number) });
    expect(res.body.revokedTokens).toBeGreaterThanOrEqual(3);

    expect((await identities(t.admin, ids.dev)).body.identities).toEqual([]);
    // this console session was signed in with a password, not through the link: it stays (identity-hunt3)
    expect(await me(null, { cookie: cookie.header })).toBe(200);
    expect(await me(root.body.access_token)).toBe(401);
    expect(await me(agent.body.access_token)).toBe(401);
    // the groups the IdP gave go with it; the ones given in the console stay
    expect((await apiCall(gh.url, t.admin, "GET", "/users")).body.users.find((u: Rec) => u.email === "dev@example.test").groups).toEqual(["console-group"]);
    // what the user got otherwise (a password login token) is theirs still
    expect(await me(t.dev)).toBe(200);
    // the other user's link is untouched
    expect((await identities(t.admin, ids.other)).body.identities).toHaveLength(1);

    const audit = (await apiCall(gh.url, t.admin, "GET", "/audit?limit=50")).body.entries as Rec[];
    const row = audit.find((e) => e.action === "user.unlink_external");
    expect(row).toMatchObject({ subject: "user:dev@example.test", actorEmail: gh.adminEmail });
    expect(row!.detail).toMatchObject({ issuer: idp.issuer, externalSubject: "idp-dev", revokedTokens: res.body.revokedTokens });

    // The point of unlinking: the IdP gave the person a new subject; it links on its next sign-in.
    const again = await exchangeIdToken(gh.url, await idTokenFor(idp, "idp-dev-new", "dev@example.test"));
    expect(again.status, JSON.stringify(again.body)).toBe(200);
    expect((await identities(t.admin, ids.dev)).body.identities).toEqual([expect.objectContaining({ subject: "idp-dev-new" })]);
    // and the old one no longer maps to the account
    const old = await exchangeIdToken(gh.url, await idTokenFor(idp, "idp-dev", "dev@example.test"));
    expect(old.status).toBe(400);
  });

  it("unlinking again, or a link that is gone, is NOT_FOUND and changes nothing", async () => {
    expect((await unlink(t.admin, ids.dev, { issuer: idp.issuer, subject: "idp-dev" })).status).toBe(404);
    expect((await identities(t.admin, ids.dev)).body.identities).toHaveLength(1);
  });

  it("the CLI lists and unlinks: users identities EMAIL, users unlink EMAIL --issuer I --subject S", async () => {
    const listed = await cli(["users", "identities", "other@example.test"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(jsonOf(listed.stdout).identities).toEqual([expect.objectContaining({ issuer: idp.issuer, subject: "idp-other" })]);
    const plain = await runCli(["users", "identities", "other@example.test"], { env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: t.admin } });
    expect(plain.stdout).toContain("idp-other");
    const refused = await runCli(["users", "unlink", "other@example.test", "--issuer", idp.issuer, "--subject", "idp-other", "--json"], { env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: t.dev } });
    expect(refused.code).not.toBe(0);
    const done = await cli(["users", "unlink", "other@example.test", "--issuer", idp.issuer, "--subject", "idp-other"]);
    expect(done.code, done.stderr).toBe(0);
    expect(jsonOf(done.stdout)).toMatchObject({ issuer: idp.issuer, subject: "idp-other" });
    expect((await identities(t.admin, ids.other)).body.identities).toEqual([]);
  });
});

/**
 * MCP call slots (GATEHOUSE_MCP_MAX_CALLS_PER_USER, 3 here; an agent's share of its pool,
 * GATEHOUSE_MCP_MAX_CALLS_PER_AGENT, is the whole pool here: identity-hunt3 tests the share): a user's agents share one pool and
 * the human's own credentials another, so a runaway agent cannot lock its human out; a call whose
 * `connect` waits for an approver holds an approval-wait slot (GATEHOUSE_MAX_WAITS_PER_CALLER, 2
 * here), not a call slot.
 */
describe("MCP call slots: agents and held connects", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let direct: postgres.Sql;
  const t = { admin: "", dev: "", approver: "", agent: "", sub: "", sibling: "" };
  const clients: Client[] = [];

  async function call(token: string, sql: string, connection = "slots-pg", extra: Rec = {}): Promise<CallToolResult> {
    const client = new Client({ name: "ident-hunt2", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    clients.push(client);
    return client.callTool({ name: "run_sql", arguments: { connection, sql, ...extra } }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
  }
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  const sleeping = async (marker: string) => (await direct`select count(*)::int as n from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`)[0].n as number;
  async function until(ok: () => Promise<boolean>, ms = 15_000) {
    const deadline = Date.now() + ms;
    while (!(await ok())) {
      if (Date.now() > deadline) throw new Error("timed out waiting");
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_MCP_MAX_CALLS_PER_USER: "3", GATEHOUSE_MCP_MAX_CALLS_PER_AGENT: "3", GATEHOUSE_MAX_WAITS_PER_CALLER: "2" } }), startPostgres15()]);
    direct = postgres(pg15.url, { max: 2, onnotice: () => {} });
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test");
    t.approver = await addApprover(gh, t.admin);
    t.agent = (await exchangeToken(gh.url, t.dev, "claude")).access_token;
    t.sub = (await exchangeToken(gh.url, t.agent, "helper")).access_token;
    t.sibling = (await exchangeToken(gh.url, t.dev, "other-bot")).access_token;
    for (const [name, tags] of [["slots-pg", ["staging"]], ["gated-pg", ["staging", "hunt-gated"]]] as const) {
      const res = await apiCall(gh.url, t.admin, "POST", "/connections", { name, type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const current = await apiCall(gh.url, t.admin, "GET", "/policies");
    const gate = `\n@id("hunt2-gated-connect")\n@hold("approvers")\npermit (principal, action == Gatehouse::Action::"connect", resource)\nwhen { resource.tags.contains("hunt-gated") };`;
    const put = await apiCall(gh.url, t.admin, "PUT", "/policies", { text: current.body.policy.text + gate, comment: "hunt2 gated connect" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await direct?.end({ timeout: 1 });
    await gh?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("held: a runaway agent (and the sub-agents and siblings it shares with) cannot take its human's slots", async () => {
    const marker = "pg_sleep(5.01)"; // long enough that every call arrives while the first three run, under load too
    const calls = [t.agent, t.sub, t.agent, t.sub, t.sibling].map((tok) => call(tok, `select ${marker}`));
    await until(async () => (await sleeping(marker)) === 3);
    // The human still runs their own calls while their agents hold all of theirs.
    const own = await call(t.dev, "select 1 as one");
    const results = await Promise.all(calls);
    expect(own.isError, text(own)).toBeFalsy();
    const refused = results.filter((r) => r.isError);
    expect(refused).toHaveLength(2);
    for (const r of refused) expect(text(r)).toMatch(/^UNAVAILABLE: 3 calls for dev@example\.test are already running/);
    expect(text(refused[0])).toMatch(/agents/);
  });

  it("held: the human's own calls are bounded too, and leave the agents theirs", async () => {
    const marker = "pg_sleep(5.02)";
    const calls = [t.dev, t.dev, t.dev, t.dev].map((tok) => call(tok, `select ${marker}`));
    await until(async () => (await sleeping(marker)) === 3);
    const agent = await call(t.agent, "select 1 as one");
    const refused = (await Promise.all(calls)).filter((r) => r.isError);
    expect(agent.isError, text(agent)).toBeFalsy();
    expect(refused).toHaveLength(1);
    expect(text(refused[0])).toMatch(/^UNAVAILABLE: 3 calls for dev@example\.test are already running/);
  });
  it("held: a call whose connect waits for an approver holds no call slot but an approval-wait slot; once approved it runs", async () => {
    const gated = (a: Rec) => a.connection === "gated-pg" && a.status === "pending" && a.request?.action === "connect";
    const pendingGated = async () => ((await apiCall(gh.url, t.approver, "GET", "/approvals?status=pending")).body.approvals as Rec[]).filter(gated);
    const held = [call(t.agent, "select 'gated-1' as g", "gated-pg", { wait_seconds: 60 }), call(t.agent, "select 'gated-2' as g", "gated-pg", { wait_seconds: 60 })];
    await until(async () => (await pendingGated()).length === 2);
    // Both wait for a person: all three of the agents' call slots are free for work meanwhile.
    const marker = "pg_sleep(2.03)";
    const work = await Promise.all([0, 1, 2].map(() => call(t.agent, `select ${marker}`)));
    for (const r of work) expect(r.isError, text(r)).toBeFalsy();
    // A third waiting connect is over the approval-wait cap: refused, and its hold withdrawn.
    const third = await call(t.agent, "select 'gated-3' as g", "gated-pg", { wait_seconds: 60 });
    expect(third.isError).toBe(true);
    expect(text(third)).toMatch(/^RATE_LIMITED: too many approval waits/);
    await until(async () => (await pendingGated()).length === 2);
    // Approved, each takes a call slot back and runs.
    for (const a of await pendingGated()) expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${a.id}/approve`, {})).status).toBe(200);
    const done = await Promise.all(held);
    for (const r of done) expect(r.isError, text(r)).toBeFalsy();
    expect(done.map(text).join("\n")).toMatch(/gated-1[\s\S]*gated-2|gated-2[\s\S]*gated-1/);
  });
});

/**
 * Scale-out: an MCP call holds an upstream connection, and the upstream's connections are shared
 * by every Gatehouse process. Two processes on one PostgreSQL count one user's calls together; a
 * process that dies holding slots gives them back once the others see it gone (heartbeat).
 */
describe("MCP call slots on a shared PostgreSQL: one count across processes", () => {
  let pg: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let direct: postgres.Sql;
  let agent = "";
  const clients: Client[] = [];

  async function call(gh: GatehouseProcess, sql: string): Promise<CallToolResult> {
    const client = new Client({ name: "ident-hunt2-shared", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${agent}` } } }));
    clients.push(client);
    return client.callTool({ name: "run_sql", arguments: { connection: "shared-pg", sql } }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
  }
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
  const sleeping = async (marker: string) => (await direct`select count(*)::int as n from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`)[0].n as number;

  beforeAll(async () => {
    pg = await startPostgres15();
    const env = { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 5).toString("base64"), GATEHOUSE_NODE_HEARTBEAT_MS: "300", GATEHOUSE_MCP_MAX_CALLS_PER_USER: "3", GATEHOUSE_MCP_MAX_CALLS_PER_AGENT: "3" };
    a = await startGatehouse({ env, demo: false });
    b = await startGatehouse({ env, demo: false });
    direct = postgres(pg.url, { max: 2, onnotice: () => {} });
    const admin = await login(a.url, a.adminEmail, a.adminPassword);
    const dev = await addUser(a, admin, "dev@example.test");
    agent = (await exchangeToken(a.url, dev, "claude")).access_token;
    const res = await apiCall(a.url, admin, "POST", "/connections", { name: "shared-pg", type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["staging"] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await direct?.end({ timeout: 1 });
    await Promise.all([a?.proc.signalCode ? null : a?.stop(), b?.stop()]);
    await pg?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("held: an agent's calls on two processes share one pool; the slots of a killed process come back", async () => {
    const long = "pg_sleep(30.01)";
    const onA = [call(a, `select ${long}`), call(a, `select ${long}`)];
    const deadline = Date.now() + 15_000;
    while ((await sleeping(long)) < 2) {
      if (Date.now() > deadline) throw new Error("the calls on the first process did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    // Long enough that the second call arrives while the first still runs, under load too.
    const onB = await Promise.all([call(b, "select pg_sleep(5.02)"), call(b, "select pg_sleep(5.02)")]);
    const refused = onB.filter((r) => r.isError);
    expect(refused.map(text)).toEqual([expect.stringMatching(/^UNAVAILABLE: 3 calls for dev@example\.test are already running/)]);

    // The first process dies holding two slots: once it is seen gone, the pool is whole again.
    const lost = Promise.allSettled(onA); // they fail with their process: handled before it dies
    await a.stop("SIGKILL");
    await lost;
    let ran = 0;
    for (const until = Date.now() + 20_000; ran < 3 && Date.now() < until; ) {
      const results = await Promise.all([0, 1, 2].map(() => call(b, "select pg_sleep(0.5)")));
      ran = results.filter((r) => !r.isError).length;
    }
    expect(ran).toBe(3);
  });
  it("slots a process failed to give back, and those of dead processes, are swept", async () => {
    const [{ live }] = await direct`select node_id as live from gateway_nodes order by last_seen desc limit 1`;
    await direct`insert into mcp_call_slots (pool, node_id, taken_at) values ('agents:leftover', ${live}, now() - interval '2 minutes'), ('agents:leftover', 'a-dead-node', now())`;
    await direct`insert into gateway_nodes (node_id, started_at, last_seen) values ('a-dead-node', now() - interval '1 hour', now() - interval '1 hour') on conflict do nothing`;
    const deadline = Date.now() + 25_000;
    let left = 2;
    while (left > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      [{ left }] = await direct`select count(*)::int as left from mcp_call_slots where pool = 'agents:leftover'`;
    }
    expect(left).toBe(0);
  });

  it("held: when the shared count cannot be read the call is refused, not let through uncounted", async () => {
    await direct`alter table mcp_call_slots rename to mcp_call_slots_away`;
    try {
      const res = await call(b, "select 'ran-uncounted' as x");
      expect(res.isError).toBe(true);
      expect(text(res)).toMatch(/^UNAVAILABLE: Gatehouse cannot reach its database/);
    } finally {
      await direct`alter table mcp_call_slots_away rename to mcp_call_slots`;
    }
    expect((await call(b, "select 1 as one")).isError).toBeFalsy();
  });
});

/**
 * The SAML ACS hands the browser a two-minute login code that next-auth redeems for a console
 * session. Whatever ends a user's console sessions (unlinking the identity the code came through,
 * signing out everywhere, a password or role change) must void the codes not yet redeemed: a cookie
 * minted from one afterwards carries the new session version and would be a live session.
 * In-process, on the embedded database, against the functions the ACS and the sign-in use.
 */
describe("login codes issued before the user's sessions were ended", () => {
  let h: DbHandle;
  let user: { id: string; email: string };
  let admin: Caller;
  const ISSUER = "https://idp.example.test";

  beforeAll(async () => {
    process.env.GATEHOUSE_SECRET_KEY ??= Buffer.alloc(32, 4).toString("base64");
    h = await openPglite(null);
    [user] = await h.db.insert(users).values({ email: "saml-user@example.test", role: "member", source: "saml" }).returning({ id: users.id, email: users.email });
    const [a] = await h.db.insert(users).values({ email: "admin@example.test", role: "admin" }).returning({ id: users.id, email: users.email });
    admin = { userId: a.id, email: a.email, role: "admin", groups: [], via: "session" };
    await h.db.insert(externalIdentities).values({ issuer: ISSUER, subject: "name-id-1", userId: user.id });
  });
  afterAll(async () => h?.close());

  const code = () => h.db.transaction((tx) => issueLoginCode(tx, user.id, "request-1", { issuer: ISSUER, subject: "name-id-1" }));

  it("control: a fresh code signs its user in once", async () => {
    const c = await code();
    expect((await redeemLoginCode(h.db, c, "request-1"))?.userId).toBe(user.id);
    expect(await redeemLoginCode(h.db, c, "request-1")).toBeNull();
  });

  it("a code issued before the user signed out everywhere is void", async () => {
    const c = await code();
    const [{ sv }] = await h.query<{ sv: number }>("select session_version as sv from users where id = $1", [user.id]);
    expect(await endConsoleSessions(h.db, { uid: user.id, sv })).toEqual({ ended: true });
    expect(await redeemLoginCode(h.db, c, "request-1")).toBeNull();
  });

  it("a code issued through an identity that was then unlinked is void", async () => {
    const c = await code();
    await unlinkExternalIdentity(h.db, admin, user.id, { issuer: ISSUER, subject: "name-id-1" });
    expect(await redeemLoginCode(h.db, c, "request-1")).toBeNull();
  });
});
