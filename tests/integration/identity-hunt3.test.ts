import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { JWTPayload } from "jose";
import { decode, encode } from "next-auth/jwt";
import postgres from "postgres";
import { WebSocket } from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addApprover, addUser, heldApproval, TEST_PASSWORD, type Rec } from "../support/api-fixture";
import { jsonOf, runCli } from "../support/cli";
import { consoleSignIn } from "../support/console-cookie";
import { CookieBrowser } from "../support/cookie-jar";
import { apiCall, exchangeToken, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { gatewayClient } from "../support/gateway-pg";
import { exchangeIdToken, idTokenFor } from "../support/oidc-exchange";
import { startOidcIdp, type OidcIdp } from "../support/oidc-idp";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Identity hunt, third round: agents' fair share of MCP call slots, console sessions that know how
 * they were signed in, and approval requests that never show a Gatehouse token.
 */

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(ok: () => Promise<boolean> | boolean, ms = 20_000) {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await sleep(100);
  }
}
const text = (r: CallToolResult) => r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
async function mcpClient(gh: GatehouseProcess, token: string, clients: Client[]) {
  const client = new Client({ name: "ident-hunt3", version: "1.0.0" });
  await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
  clients.push(client);
  return client;
}
async function runSql(gh: GatehouseProcess, token: string, clients: Client[], connection: string, sql: string, extra: Rec = {}): Promise<CallToolResult> {
  const client = await mcpClient(gh, token, clients);
  return client.callTool({ name: "run_sql", arguments: { connection, sql, ...extra } }, undefined, { timeout: 120_000 }) as Promise<CallToolResult>;
}

/**
 * One user's agents share one pool of MCP call slots (GATEHOUSE_MCP_MAX_CALLS_PER_USER, 4 here).
 * Without a share per agent, one busy agent (with its sub-agents) took every slot and its sibling
 * agents got "UNAVAILABLE" until it finished. Each top-level agent's branch now holds at most
 * GATEHOUSE_MCP_MAX_CALLS_PER_AGENT (default half the pool: 2 here), counted across processes.
 */
describe("MCP call slots: each agent's share of its user's agents' pool, across two processes", () => {
  let pg: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let direct: postgres.Sql;
  const clients: Client[] = [];
  const t = { dev: "", agentA: "", subA: "", agentB: "" };
  const sleeping = async (marker: string) => (await direct`select count(*)::int as n from pg_stat_activity where query like ${`%${marker}%`} and pid <> pg_backend_pid()`)[0].n as number;

  beforeAll(async () => {
    pg = await startPostgres15();
    const env = { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 7).toString("base64"), GATEHOUSE_MCP_MAX_CALLS_PER_USER: "4" };
    [a, b] = await Promise.all([startGatehouse({ env, demo: false }), startGatehouse({ env, demo: false })]);
    direct = postgres(pg.url, { max: 2, onnotice: () => {} });
    const admin = await login(a.url, a.adminEmail, a.adminPassword);
    t.dev = await addUser(a, admin, "dev@example.test");
    t.agentA = (await exchangeToken(a.url, t.dev, "agent-a")).access_token;
    t.subA = (await exchangeToken(a.url, t.agentA, "agent-a-helper")).access_token;
    t.agentB = (await exchangeToken(a.url, t.dev, "agent-b")).access_token;
    const res = await apiCall(a.url, admin, "POST", "/connections", { name: "shared-pg", type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["staging"] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    if (process.env.GH_DEBUG) console.log(a?.output(), b?.output());
    await direct?.end({ timeout: 1 });
    await Promise.all([a?.stop(), b?.stop()]);
    await pg?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("held: agent A (with its sub-agent) fills its share with slow calls on both processes; sibling agent B still gets calls through on either", async () => {
    const marker = "pg_sleep(6.01)";
    let settled = 0;
    const calls = [
      [a, t.agentA],
      [b, t.subA],
      [a, t.subA],
      [b, t.agentA],
    ].map(([gh, token]) => runSql(gh as GatehouseProcess, token as string, clients, "shared-pg", `select ${marker}`).finally(() => settled++));
    // A's share is two: two of its calls run, the others are refused at once. (Unshared, all four would run.)
    await until(async () => (await sleeping(marker)) === 4 || ((await sleeping(marker)) === 2 && settled === 2));
    const [onA, onB] = await Promise.all([runSql(a, t.agentB, clients, "shared-pg", "select 'b-on-a' as x"), runSql(b, t.agentB, clients, "shared-pg", "select 'b-on-b' as x")]);
    expect(onA.isError, text(onA)).toBeFalsy();
    expect(onB.isError, text(onB)).toBeFalsy();
    expect(text(onA)).toContain("b-on-a");

    const results = await Promise.all(calls);
    const refused = results.filter((r) => r.isError).map(text);
    expect(refused).toHaveLength(2);
    // (refused as agent-a's branch, or, for a second call of the sub-agent while A ran one, as the sub-agent's own share of one)
    for (const r of refused) expect(r).toMatch(/^UNAVAILABLE: (2 calls of agent agent-a|1 calls of sub-agent agent-a-helper) \(with the agents it spawned\) are already running/);
    // the human's own pool is untouched by all of it
    const own = await runSql(b, t.dev, clients, "shared-pg", "select 1 as one");
    expect(own.isError, text(own)).toBeFalsy();
  });

  it("the whole agents' pool still bounds them together: two busy siblings fill it and a third sibling waits", async () => {
    const dev = t.dev;
    const agentC = (await exchangeToken(a.url, dev, "agent-c")).access_token;
    const marker = "pg_sleep(4.02)";
    const calls = [
      [a, t.agentA],
      [b, t.agentA],
      [a, t.agentB],
      [b, t.agentB],
    ].map(([gh, token]) => runSql(gh as GatehouseProcess, token as string, clients, "shared-pg", `select ${marker}`));
    await until(async () => (await sleeping(marker)) === 4);
    const third = await runSql(b, agentC, clients, "shared-pg", "select 1 as one");
    expect(third.isError).toBe(true);
    expect(text(third)).toMatch(/^UNAVAILABLE: 4 calls for dev@example\.test are already running by its agents/);
    for (const r of await Promise.all(calls)) expect(r.isError, text(r)).toBeFalsy();
  });
});

/**
 * Unlinking an external identity ended every console session of the user (the cookie did not
 * say how it was signed in, so the session version was bumped). The cookie now records the
 * sign-in (password, or which identity link), and unlinking ends only the sessions that came
 * through that link.
 */
describe("console sessions record how they were signed in; unlinking ends only those through the link", () => {
  let idp: OidcIdp;
  let gh: GatehouseProcess;
  let admin = "";
  let devId = "";
  const NEXTAUTH_SECRET = "identity-hunt3-nextauth-secret-0123456789";

  beforeAll(async () => {
    idp = await startOidcIdp({ audience: "console-client", clientId: "console-client" });
    // the console client id is also the audience token exchange accepts ID tokens for
    gh = await startGatehouse({ demo: false, env: { NEXTAUTH_SECRET, GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_CLIENT_ID: "console-client", GATEHOUSE_OIDC_CLIENT_SECRET: "console-secret" } });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addUser(gh, admin, "dev@example.test");
    devId = ((await apiCall(gh.url, admin, "GET", "/users")).body.users as Rec[]).find((u) => u.email === "dev@example.test")!.id;
  }, 120_000);
  afterAll(async () => {
    await teardown(gh);
    idp?.close();
  });

  /** Signs in through the console's OIDC button as someone with these claims; the session cookie header. */
  async function oidcSignIn(claims: JWTPayload): Promise<string> {
    idp.signInNext(claims);
    const browser = new CookieBrowser();
    const { csrfToken } = await (await browser.fetch(`${gh.url}/api/auth/csrf`)).json();
    const start = await browser.fetch(`${gh.url}/api/auth/signin/oidc`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: gh.url },
      body: new URLSearchParams({ csrfToken, callbackUrl: "/", json: "true" }),
    });
    const back = (await browser.fetch((await start.json()).url as string)).headers.get("location")!;
    await browser.fetch(back);
    const session = browser.jar.get("gatehouse.session");
    if (!session) throw new Error("the OIDC sign-in set no session cookie");
    return `gatehouse.session=${session}`;
  }
  const me = (cookie: string) => fetch(`${gh.url}/api/v1/me`, { headers: { cookie } }).then(async (r) => ({ status: r.status, email: r.status === 200 ? ((await r.json()) as Rec).email : null }));
  const unlink = (subject: string) => apiCall(gh.url, admin, "DELETE", `/users/${devId}/identities`, { issuer: idp.issuer, subject });

  it("held: a user signed in by password and by OIDC; unlinking the OIDC identity ends the OIDC session only", async () => {
    const byPassword = (await consoleSignIn(gh.url, "dev@example.test", TEST_PASSWORD)).header;
    const byOidc = await oidcSignIn({ sub: "dev-at-idp", email: "dev@example.test", email_verified: true });
    expect(await me(byPassword)).toEqual({ status: 200, email: "dev@example.test" });
    expect(await me(byOidc)).toEqual({ status: 200, email: "dev@example.test" });

    const res = await unlink("dev-at-idp");
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await me(byOidc)).status).toBe(401);
    expect(await me(byPassword)).toEqual({ status: 200, email: "dev@example.test" });
  });

  it("an open console WebSocket ends with the link it came through; one of a password session stays open", async () => {
    const open = async (cookie: string) => {
      const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/events`, { headers: { cookie, origin: gh.url } });
      const closed = new Promise<number>((r) => ws.on("close", (code) => r(code)));
      await new Promise<void>((resolve, reject) => {
        ws.once("open", () => resolve());
        ws.once("error", reject);
      });
      return { ws, closed };
    };
    const byPassword = await open((await consoleSignIn(gh.url, "dev@example.test", TEST_PASSWORD)).header);
    const byOidc = await open(await oidcSignIn({ sub: "dev-socket", email: "dev@example.test", email_verified: true }));
    expect((await unlink("dev-socket")).status).toBe(200);
    expect(await Promise.race([byOidc.closed, sleep(10_000).then(() => "still open")])).toBe(4401);
    await sleep(500);
    expect(byPassword.ws.readyState).toBe(WebSocket.OPEN);
    byPassword.ws.close();
  });

  it("held: linking the same subject again makes a new link: a session through the removed one stays ended", async () => {
    const before = await oidcSignIn({ sub: "dev-again", email: "dev@example.test", email_verified: true });
    expect((await me(before)).status).toBe(200);
    expect((await unlink("dev-again")).status).toBe(200);
    const after = await oidcSignIn({ sub: "dev-again", email: "dev@example.test", email_verified: true });
    expect((await me(after)).status).toBe(200);
    expect((await me(before)).status).toBe(401);
  });

  it("held: personal tokens minted through the link (from its console session, or from a token exchanged on its word) end with it; one minted from a password session stays", async () => {
    const mint = async (auth: { cookie?: string; bearer?: string }, name: string) => {
      const headers: Record<string, string> = { "content-type": "application/json", origin: gh.url };
      if (auth.cookie) headers.cookie = auth.cookie;
      if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`;
      const res = await fetch(`${gh.url}/api/v1/tokens`, { method: "POST", headers, body: JSON.stringify({ name, ttlSeconds: 86_400 }) });
      expect(res.status, name).toBe(200);
      return ((await res.json()) as Rec).token as string;
    };
    // a user of its own: dev is linked to another subject of this issuer by now
    await addUser(gh, admin, "minter@example.test");
    const minterId = ((await apiCall(gh.url, admin, "GET", "/users")).body.users as Rec[]).find((u) => u.email === "minter@example.test")!.id;
    const bearerMe = (token: string) => fetch(`${gh.url}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } }).then((r) => r.status);
    const byPassword = (await consoleSignIn(gh.url, "minter@example.test", TEST_PASSWORD)).header;
    const byOidc = await oidcSignIn({ sub: "minter-at-idp", email: "minter@example.test", email_verified: true });
    const exchanged = await exchangeIdToken(gh.url, await idTokenFor(idp, "minter-at-idp", "minter@example.test"));
    expect(exchanged.status, JSON.stringify(exchanged.body)).toBe(200);
    const fromPassword = await mint({ cookie: byPassword }, "from-password");
    const fromOidcSession = await mint({ cookie: byOidc }, "from-oidc-session");
    const fromExchanged = await mint({ bearer: exchanged.body.access_token }, "from-exchanged");
    const fromThat = await mint({ bearer: fromOidcSession }, "minted-by-a-minted-one");
    for (const tok of [fromPassword, fromOidcSession, fromExchanged, fromThat]) expect(await bearerMe(tok)).toBe(200);

    expect((await apiCall(gh.url, admin, "DELETE", `/users/${minterId}/identities`, { issuer: idp.issuer, subject: "minter-at-idp" })).status).toBe(200);
    expect(await bearerMe(fromOidcSession)).toBe(401);
    expect(await bearerMe(fromExchanged)).toBe(401);
    expect(await bearerMe(fromThat)).toBe(401);
    expect(await bearerMe(fromPassword)).toBe(200);
  });

  it("held: a cookie that does not say how it was signed in (one from before sessions recorded it) is refused", async () => {
    const signedIn = await consoleSignIn(gh.url, "dev@example.test", TEST_PASSWORD);
    const sessionVersion = await currentSessionVersion(signedIn.value);
    const forge = async (claims: Rec) => `gatehouse.session=${encodeURIComponent(await encode({ token: { uid: devId, sv: sessionVersion, ...claims }, secret: NEXTAUTH_SECRET, maxAge: 600 }))}`;
    // control: the same claims with a password sign-in are a live session
    expect((await me(await forge({ si: { via: "password" } }))).status).toBe(200);
    expect((await me(await forge({}))).status).toBe(401);
    expect((await me(await forge({ si: { via: "oidc", issuer: idp.issuer, subject: "never-linked", linkedAt: Date.now() } }))).status).toBe(401);
  });

  /** The session version a live cookie carries (read back with the server's secret). */
  async function currentSessionVersion(cookie: string): Promise<number> {
    const claims = await decode({ token: decodeURIComponent(cookie), secret: NEXTAUTH_SECRET });
    return (claims as { sv: number }).sv;
  }
});

/**
 * A held statement's text is shown to approvers, auditors, the webhook and the CLI. A Gatehouse
 * token written into it (`select '<token>'`) was stored and shown verbatim, for any of them to
 * use. It is now stored as a same-length placeholder, as in recordings; the approval stays bound
 * to the real text, so it covers that statement with that token only.
 */
describe("approval requests never show a Gatehouse token", () => {
  let pg: Postgres15;
  let gh: GatehouseProcess;
  let direct: postgres.Sql;
  let hookServer: http.Server;
  let home: string;
  const hookBodies: string[] = [];
  const clients: Client[] = [];
  const ends: postgres.Sql[] = [];
  const t = { admin: "", dev: "", approver: "", agent: "" };

  beforeAll(async () => {
    hookServer = http.createServer((req, res) => {
      let data = "";
      req.on("data", (d) => (data += d));
      req.on("end", () => {
        hookBodies.push(data);
        res.end("ok");
      });
    });
    await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", r));
    const hook = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
    pg = await startPostgres15();
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: pg.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 8).toString("base64"), GATEHOUSE_APPROVAL_WEBHOOK_URL: hook, GATEHOUSE_APPROVAL_WEBHOOK_FORMAT: "json" } });
    direct = postgres(pg.url, { max: 2, onnotice: () => {} });
    home = fs.mkdtempSync(path.join(os.tmpdir(), "gh-ident3-"));
    t.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    t.dev = await addUser(gh, t.admin, "dev@example.test");
    t.approver = await addApprover(gh, t.admin);
    t.agent = (await exchangeToken(gh.url, t.dev, "claude")).access_token;
    const res = await apiCall(gh.url, t.admin, "POST", "/connections", { name: "held-pg", type: "postgres", upstream: `postgres://127.0.0.1:${pg.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["hunt3-held"] });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const current = await apiCall(gh.url, t.admin, "GET", "/policies");
    const hold = `\n@id("hunt3-hold-reads")\n@hold("approvers")\npermit (principal, action == Gatehouse::Action::"read", resource)\nwhen { resource.tags.contains("hunt3-held") };`;
    const put = await apiCall(gh.url, t.admin, "PUT", "/policies", { text: current.body.policy.text + hold, comment: "hunt3 held reads" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
    await Promise.all(ends.map((s) => s.end({ timeout: 1 }).catch(() => {})));
    if (process.env.GH_DEBUG) console.log(gh?.output());
    await direct?.end({ timeout: 1 });
    await gh?.stop();
    await pg?.stop();
    hookServer?.close();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
    if (home) fs.rmSync(home, { recursive: true, force: true });
  });

  /** Every place a held request is stored or shown: none may hold `secret`. */
  async function surfaces(id: number): Promise<Record<string, string>> {
    const cookie = await consoleSignIn(gh.url, "approver@example.test", TEST_PASSWORD);
    const cli = (args: string[]) => runCli(args, { env: { HOME: home, GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: t.approver } });
    const [row] = await direct`select request::text as request, reason from approval_requests where id = ${id}`;
    return {
      table: `${row.request} ${row.reason}`,
      restList: JSON.stringify((await apiCall(gh.url, t.approver, "GET", "/approvals")).body),
      restDetail: JSON.stringify((await apiCall(gh.url, t.approver, "GET", `/approvals/${id}`)).body),
      requesterView: JSON.stringify((await apiCall(gh.url, t.dev, "GET", `/approvals/${id}`)).body),
      // the console's approval pages render what these answer to their cookie (app/(console)/approvals)
      consolePage: await (await fetch(`${gh.url}/api/v1/approvals/${id}`, { headers: { cookie: cookie.header } })).text(),
      consoleList: await (await fetch(`${gh.url}/api/v1/approvals?status=pending`, { headers: { cookie: cookie.header } })).text(),
      cliJson: (await cli(["approvals", "list", "--json"])).stdout,
      cliHuman: (await cli(["approvals", "list"])).stdout,
      audit: JSON.stringify((await apiCall(gh.url, t.admin, "GET", "/audit?limit=200")).body),
      webhook: hookBodies.join("\n"),
    };
  }
  function expectNoToken(all: Record<string, string>, secret: string) {
    for (const [where, body] of Object.entries(all)) {
      expect(body.length, where).toBeGreaterThan(0);
      expect(body.includes(secret), `${where} shows the token`).toBe(false);
    }
  }

  it("held: a psql statement with the user's token in it is held; no surface shows the token; approving runs exactly that statement", async () => {
    const { sql } = gatewayClient(gh.ports.postgres, { user: "dev@example.test", password: t.dev, database: "held-pg", track: ends, options: { fetch_types: false } });
    const statement = `select '${t.dev}' as leaked`;
    const running = sql.unsafe(statement).then((rows) => rows); // postgres.js sends a query once it is awaited
    const approval = await heldApproval(gh, t.approver, (x) => x.connection === "held-pg" && /leaked/.test(x.request?.text ?? ""));
    expect(approval.request.text).toMatch(/^select '\[REDACTED gatehouse credential\**\]' as leaked$/);
    expect(approval.request.text).toHaveLength(statement.length);
    await until(() => hookBodies.some((h) => h.includes(`"id":${approval.id}`)));
    const all = await surfaces(approval.id);
    expectNoToken(all, t.dev);
    expect(all.consolePage).toContain("REDACTED gatehouse credential");
    expect(jsonOf(all.cliJson)).toBeTruthy();

    const ok = await apiCall(gh.url, t.approver, "POST", `/approvals/${approval.id}/approve`, { windowSeconds: 600 });
    expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    // the statement that runs is the one with the real token: the client gets its own value back
    expect((await running)[0].leaked).toBe(t.dev);
  });

  it("held: the approval is bound to the real text: the same statement with another token of the same length (the same placeholder) is held anew", async () => {
    const { sql } = gatewayClient(gh.ports.postgres, { user: "dev@example.test", password: t.dev, database: "held-pg", track: ends, options: { fetch_types: false } });
    // the window approved above covers the statement with t.dev, and only it
    expect((await sql.unsafe(`select '${t.dev}' as leaked`))[0].leaked).toBe(t.dev);
    const last = t.dev.at(-1) === "A" ? "B" : "A";
    const other = t.dev.slice(0, -1) + last;
    const running = sql.unsafe(`select '${other}' as leaked`).catch((e: Error) => e);
    const again = await heldApproval(gh, t.approver, (x) => x.connection === "held-pg" && x.status === "pending" && /leaked/.test(x.request?.text ?? ""));
    expect(again.request.text).toMatch(/REDACTED gatehouse credential/);
    expectNoToken({ detail: JSON.stringify((await apiCall(gh.url, t.approver, "GET", `/approvals/${again.id}`)).body) }, other);
    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${again.id}/deny`, { reason: "not that one" })).status).toBe(200);
    expect(String(await running)).toMatch(/denied/);
  });

  it("held: an approver's comment with a token in it reaches neither the requester, the API, the audit log nor the webhook", async () => {
    const { sql } = gatewayClient(gh.ports.postgres, { user: "dev@example.test", password: t.dev, database: "held-pg", track: ends, options: { fetch_types: false } });
    const running = sql.unsafe("select 'commented' as c").catch((e: Error) => e);
    const held = await heldApproval(gh, t.approver, (x) => x.connection === "held-pg" && /commented/.test(x.request?.text ?? ""));
    expect((await apiCall(gh.url, t.approver, "POST", `/approvals/${held.id}/deny`, { reason: `use your own token, not ${t.approver}` })).status).toBe(200);
    const refusal = String(await running);
    expect(refusal).toMatch(/denied by approver@example\.test: use your own token, not \[REDACTED gatehouse credential/);
    await until(() => hookBodies.some((h) => h.includes(`"id":${held.id}`) && h.includes("approval.decided")));
    expectNoToken(
      {
        refusal,
        detail: JSON.stringify((await apiCall(gh.url, t.dev, "GET", `/approvals/${held.id}`)).body),
        audit: JSON.stringify((await apiCall(gh.url, t.admin, "GET", "/audit?limit=200")).body),
        webhook: hookBodies.join("\n"),
      },
      t.approver,
    );
  });

  it("held: an agent's MCP call with a token in its SQL, and an access request with a token in its reason, show none", async () => {
    const held = await runSql(gh, t.agent, clients, "held-pg", `select '${t.agent}' as agent_leak`, { wait_seconds: 1 });
    expect(text(held)).toMatch(/held for approval #\d+/);
    expect(text(held).includes(t.agent)).toBe(false);
    const id = Number(/#(\d+)/.exec(text(held))![1]);
    const asked = await apiCall(gh.url, t.dev, "POST", "/access-requests", { connection: "held-pg", durationSeconds: 600, reason: `for the job run with ${t.agent}` });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    const access = (await apiCall(gh.url, t.approver, "GET", "/approvals?status=pending")).body.approvals.find((x: Rec) => x.kind === "access") as Rec;
    expect(access.reason).toMatch(/^for the job run with \[REDACTED gatehouse credential\**\]$/);
    await until(() => hookBodies.some((h) => h.includes(`"id":${access.id}`)));
    expectNoToken(await surfaces(id), t.agent);
    const waited = (await (await mcpClient(gh, t.agent, clients)).callTool({ name: "wait_for_approval", arguments: { approval_id: id, timeout_seconds: 1 } })) as CallToolResult;
    expect(text(waited).includes(t.agent)).toBe(false);
  });
});
