import { execFileSync } from "node:child_process";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import ssh2 from "ssh2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { exportJWK, generateKeyPair, SignJWT, type JWK } from "jose";
import { SignedXml } from "xml-crypto";
import { openPglite, type DbHandle } from "@/db/client";
import { GatehouseError } from "@/lib/gateway/core/types";
import { verifyExternalToken } from "@/lib/identity/external-oidc";
import { newRequestId } from "@/lib/identity/saml-request";
import { validateSamlResponse, type SamlConfig } from "@/lib/identity/saml";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { connectOutcome } from "../support/gateway-pg";
import { addConnection, sshUpstream } from "../support/api-fixture";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";
import { ssh2Connect, ssh2Exec } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";

/**
 * Identity and delegation bypass hunt, as a hostile agent or a malicious insider would try it,
 * against a real Gatehouse process (real psql-protocol and SSH clients, a real sshd): RFC 8693
 * exchanges that try to widen a child, tickets raced and replayed, tokens confused for other kinds
 * of credential or typed into the wrong field, narrowed tokens reading past their scope, and
 * revocation of a parent while its branch still has things in flight (sessions, held writes,
 * requests waiting for an approver, open sockets) — also on a shared PostgreSQL store whose
 * messages are lost. SAML signature wrapping and OIDC key confusion are put to the gateway's own
 * validators in-process.
 *
 * Tests named "held: ..." attack something that already stood; the others failed before the fix
 * their commit names.
 */
const PASSWORD = "a-long-password-1";
const DEV = "dev@example.test";
const OTHER = "other@example.test";
const APPROVER = "approver@example.test";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function socketOf(url: string, pathname: string, headers: Record<string, string>) {
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}${pathname}`, { headers });
  const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
  const opened = new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once("error", reject);
  });
  return { ws, opened, closed };
}

describe("identity and delegation bypass hunt", () => {
  let gh: GatehouseProcess;
  let sshd: Sshd;
  let admin: string;
  let approver: string;
  const open: postgres.Sql[] = [];

  /** The raw RFC 8693 answer (status and body), refused or not. */
  async function exchangeRaw(fields: Record<string, string>) {
    const res = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: TOKEN_EXCHANGE, ...fields }),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  }
  async function personal(email: string, extra: Record<string, unknown> = {}) {
    const res = await apiCall(gh.url, await login(gh.url, email, PASSWORD), "POST", "/tokens", { name: `t-${Date.now()}`, ttlSeconds: 7200, ...extra });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return { token: res.body.token as string, id: res.body.id as string };
  }
  async function ticket(token: string, connection = "demo-postgres") {
    const res = await apiCall(gh.url, token, "POST", "/tokens/ticket", { connection });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.ticket as string;
  }
  /** Connects and runs one statement: "ok", or the error the gateway answered with. */
  const tryConnect = (password: string, user = DEV, database = "demo-postgres") => connectOutcome(gh.ports.postgres, { password, user, database });
  async function ask(token: string, reason: string) {
    const asked = await apiCall(gh.url, token, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    return asked.body.approval.id as number;
  }
  const approval = async (id: number) => (await apiCall(gh.url, admin, "GET", `/approvals/${id}`)).body.approval as Record<string, any>;
  const socket = (pathname: string, headers: Record<string, string>) => socketOf(gh.url, pathname, headers);

  beforeAll(async () => {
    [gh, sshd] = await Promise.all([startGatehouse({ env: { GATEHOUSE_APPROVAL_TTL_SECONDS: "120" } }), startSshd()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addConnection(gh, admin, "box", { ...sshUpstream(sshd) });
    for (const [email, role, groups] of [
      [DEV, "member", []],
      [OTHER, "member", []],
      [APPROVER, "approver", ["approvers"]],
    ] as const) {
      const res = await apiCall(gh.url, admin, "POST", "/users", { email, password: PASSWORD, role, groups });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    approver = await login(gh.url, APPROVER, PASSWORD);
  }, 180_000);

  afterAll(async () => {
    await Promise.allSettled(open.map((s) => s.end({ timeout: 1 })));
    await teardown(gh, sshd);
  });

  // --- RFC 8693 exchange: a child never holds more than its parent ------------------------------

  it("held: an exchange cannot widen connections, actions, lifetime or depth, nor take a revoked, expired or ticket parent", async () => {
    const script = await personal(DEV, { connections: ["demo-postgres"], actions: ["connect", "read"], ttlSeconds: 600 });
    const refused = async (fields: Record<string, string>, error: string, why: RegExp) => {
      const res = await exchangeRaw(fields);
      expect(res.status, JSON.stringify(res.body)).toBe(400);
      expect(res.body.error).toBe(error);
      expect(res.body.error_description).toMatch(why);
    };
    const from = { subject_token: script.token, actor: "wider" };
    await refused({ ...from, scope: "connection:other" }, "invalid_scope", /exceed the parent/);
    await refused({ ...from, scope: "connection:*" }, "invalid_scope", /exceed the parent/);
    await refused({ ...from, scope: "action:write" }, "invalid_scope", /exceed the parent/);
    await refused({ ...from, scope: "action:*" }, "invalid_scope", /exceed the parent/);
    await refused({ ...from, scope: "connection:demo-postgres admin" }, "invalid_scope", /unknown scope item/);
    await refused({ ...from, expires_in: "3600" }, "invalid_request", /cannot outlive its parent/);
    // A scope item that repeats a connection with something after it names only that connection.
    const odd = await exchangeRaw({ ...from, scope: "connection:demo-postgres:other" });
    expect(odd.status).toBe(200);
    expect(odd.body.scope).toBe("connection:demo-postgres action:connect action:read");
    // Depth: personal (0) → 1 → 2 → 3, and no further (GATEHOUSE_MAX_DELEGATION_DEPTH, default 3).
    let t = script.token;
    for (let depth = 1; depth <= 3; depth++) t = (await exchangeToken(gh.url, t, `d${depth}`)).access_token;
    await refused({ subject_token: t, actor: "d4" }, "invalid_request", /depth 4 exceeds the maximum of 3/);
    // The child of a narrowed parent inherits the narrowing: its own child cannot ask for "*" either.
    const child = await exchangeToken(gh.url, script.token, "child");
    await refused({ subject_token: child.access_token, actor: "grandchild", scope: "connection:*" }, "invalid_scope", /exceed the parent/);
    // A ticket is no parent, as subject or as actor_token.
    const tk = await ticket(script.token);
    await refused({ subject_token: tk, actor: "from-ticket" }, "invalid_grant", /tickets are accepted only by the gateways/);
    await refused({ subject_token: script.token, actor: "x", actor_token: tk }, "invalid_grant", /actor_token is not valid/);
    // Another user's token is no actor_token for this subject.
    await refused({ subject_token: script.token, actor: "x", actor_token: (await personal(OTHER)).token }, "invalid_grant", /actor_token is not valid/);
    // A revoked parent, and a child below it, exchange nothing.
    const revokedParent = await personal(DEV);
    const below = await exchangeToken(gh.url, revokedParent.token, "below");
    expect((await apiCall(gh.url, revokedParent.token, "DELETE", `/tokens/${revokedParent.id}`)).status).toBe(200);
    await refused({ subject_token: revokedParent.token, actor: "after" }, "invalid_grant", /revoked/);
    await refused({ subject_token: below.access_token, actor: "after" }, "invalid_grant", /revoked/);
    // An expired parent exchanges nothing either.
    const brief = await exchangeToken(gh.url, script.token, "brief", { expires_in: "2" });
    await sleep(2500);
    await refused({ subject_token: brief.access_token, actor: "late" }, "invalid_grant", /expired/);
  });

  // --- credentials confused for one another ---------------------------------------------------

  it("held: a ticket is refused by the REST API, the WebSockets, MCP and token exchange, and is good for one gateway connection only", async () => {
    const root = await personal(DEV);
    const tk = await ticket(root.token);
    expect((await apiCall(gh.url, tk, "GET", "/me")).status).toBe(401);
    await expect(socket("/ws/events", { authorization: `Bearer ${tk}` }).opened).rejects.toThrow(/401/);
    const mcp = await fetch(`${gh.url}/api/mcp`, { method: "POST", headers: { authorization: `Bearer ${tk}`, "content-type": "application/json", accept: "application/json, text/event-stream" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }) });
    expect(mcp.status).toBe(401);
    // None of those spent it: the gateway takes it once.
    expect(await tryConnect(tk)).toBe("ok");
    expect(await tryConnect(tk)).toMatch(/password authentication failed/);
  });

  it("held: two connections racing one ticket: exactly one gets in", async () => {
    const root = await personal(DEV);
    for (let round = 0; round < 3; round++) {
      const tk = await ticket(root.token);
      const results = await Promise.all([tryConnect(tk), tryConnect(tk), tryConnect(tk)]);
      expect(results.filter((r) => r === "ok")).toHaveLength(1);
    }
  });

  it("held: a ticket minted for one connection does not open another", async () => {
    const made = await apiCall(gh.url, admin, "POST", "/connections", { name: "second-postgres", type: "postgres", upstream: `postgres://127.0.0.1:${gh.ports.demo}/postgres`, username: "postgres" });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const root = await personal(DEV);
    expect(await tryConnect(await ticket(root.token, "demo-postgres"), DEV, "second-postgres")).toMatch(/scope does not include connection second-postgres/);
    const scoped = await personal(DEV, { connections: ["demo-postgres"] });
    expect(await tryConnect(scoped.token, DEV, "second-postgres")).toMatch(/scope does not include connection second-postgres/);
    expect((await apiCall(gh.url, scoped.token, "POST", "/tokens/ticket", { connection: "second-postgres" })).status).toBe(403);
  });

  it("held: a bearer token is no console cookie, a console cookie no bearer token; odd spellings and huge tokens are refused, not errors", async () => {
    const root = await personal(DEV);
    const page = await fetch(`${gh.url}/sessions`, { headers: { cookie: `gatehouse.session=${root.token}` }, redirect: "manual" });
    expect([302, 307]).toContain(page.status);
    expect(page.headers.get("location")).toMatch(/\/login/);
    expect((await fetch(`${gh.url}/api/v1/me`, { headers: { cookie: `gatehouse.session=${root.token}` } })).status).toBe(401);
    const variants = [root.token.toUpperCase(), `${root.token}x`, root.token.slice(0, -1), `${root.token}.${root.token}`, "a".repeat(9000), `${root.token.split(".").slice(0, 2).join(".")}.`];
    for (const v of variants) expect((await apiCall(gh.url, v, "GET", "/me")).status, v.slice(0, 40)).toBe(401);
    for (const header of [`Basic ${root.token}`, `Bearer`, `Bearer ${root.token} ${root.token}`, `Token ${root.token}`]) {
      expect((await fetch(`${gh.url}/api/v1/me`, { headers: { authorization: header } })).status, header.slice(0, 20)).toBe(401);
    }
    // The scheme is case-insensitive (RFC 9110) and the token exact.
    expect((await fetch(`${gh.url}/api/v1/me`, { headers: { authorization: `bearer ${root.token}` } })).status).toBe(200);
    expect(await tryConnect("a".repeat(9000))).toMatch(/malformed token|password authentication failed|invalid/i);
    expect(await tryConnect(`${root.token} `)).not.toBe("ok");
  });

  it("a script token narrowed to one connection cannot read its user's recordings of other connections (the rows they were shown)", async () => {
    const dev = await personal(DEV);
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: DEV, password: dev.token, ssl: false, max: 1, connection: { application_name: "dev-by-hand" } });
    open.push(sql);
    await sql`select email, ssn from customers order by id limit 1`;
    await sql.end({ timeout: 1 });
    let id = "";
    await expect
      .poll(async () => (id = ((await apiCall(gh.url, dev.token, "GET", "/sessions?q=dev-by-hand")).body.sessions as { id: string; applicationName: string }[]).find((x) => x.applicationName === "dev-by-hand")?.id ?? ""), { timeout: 5000 })
      .not.toBe("");
    // Held by the user for a CI job that only ever reads "reports".
    const script = await personal(DEV, { connections: ["reports"], actions: ["connect", "read"] });
    const listed = await apiCall(gh.url, script.token, "GET", "/sessions");
    expect(listed.status).toBe(200);
    expect((listed.body.sessions as { id: string }[]).map((x) => x.id)).not.toContain(id);
    for (const path of [`/sessions/${id}`, `/sessions/${id}/events`, `/sessions/${id}/export?format=jsonl`]) {
      expect((await apiCall(gh.url, script.token, "GET", path)).status, path).toBe(404);
    }
    await expect(socket(`/ws/sessions/${id}`, { authorization: `Bearer ${script.token}` }).opened).rejects.toThrow(/403/);
    // The user's full token still reads it.
    expect((await apiCall(gh.url, dev.token, "GET", `/sessions/${id}/events`)).status).toBe(200);
  });

  it("a narrowed script token reads only the approval requests it made, not its user's others (their statements, parameters and reasons)", async () => {
    const dev = await personal(DEV);
    const theirs = await ask(dev.token, "payroll-fix: rerun the March bonus run for the board");
    const script = await personal(DEV, { connections: ["demo-postgres"], actions: ["connect", "read"] });
    const own = await ask(script.token, "the script's own request");
    const listed = ((await apiCall(gh.url, script.token, "GET", "/approvals?status=all")).body.approvals as { id: number }[]).map((a) => a.id);
    expect(listed).toContain(own);
    expect(listed).not.toContain(theirs);
    expect((await apiCall(gh.url, script.token, "GET", `/approvals/${theirs}`)).status).toBe(404);
    expect((await apiCall(gh.url, script.token, "GET", `/approvals/${theirs}/wait?timeout=1`)).status).toBe(404);
    expect((await apiCall(gh.url, script.token, "GET", `/approvals/${own}`)).status).toBe(200);
    expect((await apiCall(gh.url, dev.token, "GET", `/approvals/${own}`)).status).toBe(200);
  });

  it("a narrowed script token learns of a connection what an agent does: no upstream address, user name or options", async () => {
    const script = await personal(DEV, { connections: ["demo-postgres"], actions: ["connect", "read"] });
    const listed = await apiCall(gh.url, script.token, "GET", "/connections");
    expect(listed.status).toBe(200);
    const demo = (listed.body.connections as Record<string, unknown>[]).find((c) => c.name === "demo-postgres")!;
    expect(demo).toBeDefined();
    expect(Object.keys(demo).sort()).toEqual(["description", "id", "name", "tags", "type"]);
    const full = (await apiCall(gh.url, (await personal(DEV)).token, "GET", "/connections")).body.connections as Record<string, unknown>[];
    expect(full.find((c) => c.name === "demo-postgres")!.upstream).toMatch(/^postgres:\/\//);
  });

  it("a token typed into the user name field (PostgreSQL user, SSH user) is not written to the audit log or the server's output", async () => {
    const root = await personal(DEV);
    // The usual slip: the token pasted into both fields, or into the wrong one.
    expect(await tryConnect(root.token, root.token)).toMatch(/password authentication failed/);
    const ssh = new ssh2.Client();
    const refused = await new Promise<string>((resolve) => {
      ssh.once("ready", () => resolve("ready"));
      ssh.once("error", (err) => resolve(err.message));
      ssh.connect({ host: "127.0.0.1", port: gh.ports.ssh, username: root.token, password: root.token, readyTimeout: 15_000 });
    });
    ssh.end();
    expect(refused).toMatch(/authentication methods failed/);
    const signature = root.token.split(".")[2];
    let audit = "";
    await expect
      .poll(async () => (audit = JSON.stringify((await apiCall(gh.url, admin, "GET", "/audit?limit=50")).body)), { timeout: 5000 })
      .toMatch(/gateway\.auth_failed/);
    expect(audit).toMatch(/gateway\.auth_failed/);
    expect(audit).toContain("[REDACTED token]");
    expect(audit).not.toContain(signature);
    expect(gh.output()).not.toContain(signature);
  });

  // --- revocation reaches what a branch has in flight -----------------------------------------

  it("held: revoking the human's token ends everything its sub-agent has open: a PostgreSQL session, a held write, an SSH command, a socket", async () => {
    const root = await personal(DEV);
    const agent = await exchangeToken(gh.url, root.token, "planner");
    const sub = await exchangeToken(gh.url, agent.access_token, "worker");
    expect(sub.depth).toBe(2);
    // A live PostgreSQL session, with a write held for approval (depth-2 agents' changes wait).
    const notices: string[] = [];
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: DEV, password: sub.access_token, ssl: false, max: 1, onnotice: (n) => void notices.push(String(n.message)) });
    open.push(sql);
    await sql`select 1`;
    const write = sql.unsafe("update customers set name = name where id = 1").then(() => "ran", (e: Error) => e.message);
    await expect.poll(() => notices.join("\n"), { timeout: 10_000 }).toMatch(/held for approval #\d+/);
    const held = Number(/held for approval #(\d+)/.exec(notices.join("\n"))![1]);
    // A long SSH command, and a socket.
    const ssh = await ssh2Connect({ port: gh.ports.ssh, user: "box", password: sub.access_token });
    const run = await ssh2Exec(ssh, "sleep 60; echo finished");
    const s = socket("/ws/events", { authorization: `Bearer ${sub.access_token}` });
    await s.opened;

    const t0 = Date.now();
    expect((await apiCall(gh.url, root.token, "DELETE", `/tokens/${root.id}`)).status).toBe(200);
    // All three end together, not one after the other: one deadline for them all.
    const deadline = sleep(15_000);
    const [closed, wrote, ran] = await Promise.all([
      Promise.race([s.closed, deadline.then(() => -1)]),
      Promise.race([write, deadline.then(() => "still waiting")]),
      Promise.race([run.done.then(() => "closed"), deadline.then(() => "still running")]),
    ]);
    expect(closed).toBe(4401);
    expect(wrote).not.toMatch(/ran|still waiting/);
    expect(ran).toBe("closed");
    expect(run.stdout()).not.toContain("finished");
    // well before the command's 60 s
    expect(Date.now() - t0).toBeLessThan(20_000);
    ssh.end();
    expect((await approval(held)).status).not.toBe("pending");
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${held}/approve`, {})).status).toBe(409);
    expect(await tryConnect(sub.access_token)).toMatch(/password authentication failed/);
  });

  it("revoking a parent cancels the access requests its agents left waiting: an approver can no longer approve them into a grant", async () => {
    const root = await personal(DEV);
    const agent = await exchangeToken(gh.url, root.token, "agent");
    const child = await exchangeToken(gh.url, agent.access_token, "child");
    const fromAgent = await ask(agent.access_token, "agent wants in");
    const fromChild = await ask(child.access_token, "child wants in");
    expect((await apiCall(gh.url, root.token, "DELETE", `/tokens/${root.id}`)).status).toBe(200);
    for (const id of [fromAgent, fromChild]) {
      await expect.poll(async () => (await approval(id)).status, { timeout: 5000 }).toBe("cancelled");
      const decided = await apiCall(gh.url, approver, "POST", `/approvals/${id}/approve`, {});
      expect(decided.status, JSON.stringify(decided.body)).toBe(409);
    }
    const grants = (await apiCall(gh.url, admin, "GET", "/grants")).body.grants as { requestId?: number; approvalId?: number }[];
    expect(grants.filter((g) => [fromAgent, fromChild].includes((g.requestId ?? g.approvalId)!))).toEqual([]);
  });

  it("revoking a narrowed script token cancels its waiting access request: approving it would have given its whole user a grant", async () => {
    const script = await personal(OTHER, { connections: ["demo-postgres"], actions: ["read"] });
    const id = await ask(script.token, "script wants in");
    expect((await apiCall(gh.url, script.token, "DELETE", `/tokens/${script.id}`)).status).toBe(200);
    await expect.poll(async () => (await approval(id)).status, { timeout: 5000 }).toBe("cancelled");
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${id}/approve`, {})).status).toBe(409);
  });

  it("an access request whose agent token has run out cannot be approved into a grant", async () => {
    const root = await personal(DEV);
    const agent = await exchangeToken(gh.url, root.token, "brief", { expires_in: "3" });
    const id = await ask(agent.access_token, "brief agent wants in");
    await sleep(3500);
    const decided = await apiCall(gh.url, approver, "POST", `/approvals/${id}/approve`, {});
    expect(decided.status, JSON.stringify(decided.body)).toBe(409);
    expect(decided.body.error.message).toMatch(/revoked or expired/);
    expect((await approval(id)).status).toBe("pending");
  });

  it("disabling a user cancels the access requests they left waiting", async () => {
    const res = await apiCall(gh.url, admin, "POST", "/users", { email: "leaver@example.test", password: PASSWORD, role: "member" });
    expect(res.status).toBe(200);
    const leaver = await personal("leaver@example.test");
    const agent = await exchangeToken(gh.url, leaver.token, "agent");
    const own = await ask(leaver.token, "leaver wants in");
    const agents = await ask(agent.access_token, "leaver's agent wants in");
    expect((await apiCall(gh.url, admin, "PATCH", `/users/${res.body.user.id}`, { disabled: true })).status).toBe(200);
    for (const id of [own, agents]) {
      await expect.poll(async () => (await approval(id)).status, { timeout: 5000 }).toBe("cancelled");
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${id}/approve`, {})).status).toBe(409);
    }
  });

  it("held: revoking a parent closes its child's open /ws/events socket", async () => {
    const root = await personal(DEV);
    const agent = await exchangeToken(gh.url, root.token, "watcher");
    const s = socket("/ws/events", { authorization: `Bearer ${agent.access_token}` });
    await s.opened;
    expect((await apiCall(gh.url, root.token, "DELETE", `/tokens/${root.id}`)).status).toBe(200);
    expect(await Promise.race([s.closed, sleep(5000).then(() => -1)])).toBe(4401);
  });
});

/**
 * Processes sharing a PostgreSQL store tell each other of revocations with NOTIFY, which is best
 * effort. Here the store is changed behind the process's back (no message at all), as when the
 * message was lost: what a socket was opened with must still stop being honoured.
 */
describe("identity hunt on a shared PostgreSQL store: lost messages", () => {
  let gh: GatehouseProcess;
  let pg: Postgres15;
  let store: postgres.Sql;
  let admin: string;

  beforeAll(async () => {
    pg = await startPostgres15();
    const storeUrl = await createDatabase(pg, "gh_store");
    gh = await startGatehouse({ env: { DATABASE_URL: storeUrl, GATEHOUSE_POLICY_POLL_MS: "500" } });
    store = postgres(storeUrl, { max: 1, onnotice: () => {} });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: DEV, password: PASSWORD, role: "member" })).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await store?.end({ timeout: 1 });
    await teardown(gh, pg);
  });

  it("an open /ws/events socket closes when its token's parent is revoked or its user disabled, even when the messages never arrive", async () => {
    const dev = await login(gh.url, DEV, PASSWORD);
    const root = await apiCall(gh.url, dev, "POST", "/tokens", { name: "lost-notify", ttlSeconds: 3600 });
    expect(root.status).toBe(200);
    const agent = await exchangeToken(gh.url, root.body.token, "listener");
    const s = socketOf(gh.url, "/ws/events", { authorization: `Bearer ${agent.access_token}` });
    await s.opened;
    await store.unsafe("update tokens set revoked_at = now() where id = $1", [root.body.id]);
    expect(await Promise.race([s.closed, sleep(10_000).then(() => -1)])).toBe(4401);

    const other = socketOf(gh.url, "/ws/events", { authorization: `Bearer ${dev}` });
    await other.opened;
    await store.unsafe("update users set disabled = true where email = $1", [DEV]);
    expect(await Promise.race([other.closed, sleep(10_000).then(() => -1)])).toBe(4401);
  });
});

/**
 * SAML assertions an attacker shapes around one the IdP really signed (XML signature wrapping):
 * validated in-process with the ACS's own validateSamlResponse against an in-memory store, so each
 * variant is a direct question about what the signed bytes vouch for.
 */
describe("identity hunt: SAML signature wrapping", () => {
  const PUBLIC_URL = "http://gatehouse.example.test";
  const ACS = `${PUBLIC_URL}/api/auth/saml/acs`;
  const SP = "https://gatehouse.example.test/sp";
  const IDP = "https://idp.example.test";
  let dir: string;
  let key: string;
  let cfg: SamlConfig;
  let handle: DbHandle;

  beforeAll(async () => {
    process.env.GATEHOUSE_SECRET_KEY ??= randomBytes(32).toString("base64");
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-xsw-"));
    execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "1", "-subj", "/CN=idp", "-keyout", path.join(dir, "idp.key"), "-out", path.join(dir, "idp.crt")], { stdio: "ignore" });
    key = fs.readFileSync(path.join(dir, "idp.key"), "utf8");
    cfg = { entryPoint: `${IDP}/sso`, issuer: SP, idpCert: fs.readFileSync(path.join(dir, "idp.crt"), "utf8"), idpIssuer: IDP, name: "IdP", emailAttribute: "email", groupsAttribute: "groups", autoCreateUsers: false, trustEmail: false };
    handle = await openPglite(null);
  }, 60_000);

  afterAll(async () => {
    await handle?.close?.();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  function assertion(requestId: string, email: string, id = `_a${randomUUID()}`) {
    const now = new Date();
    const later = new Date(now.getTime() + 300_000).toISOString();
    return (
      `<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${id}" Version="2.0" IssueInstant="${now.toISOString()}">` +
      `<saml:Issuer>${IDP}</saml:Issuer>` +
      `<saml:Subject><saml:NameID>opaque-1</saml:NameID><saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer"><saml:SubjectConfirmationData NotOnOrAfter="${later}" Recipient="${ACS}" InResponseTo="${requestId}"/></saml:SubjectConfirmation></saml:Subject>` +
      `<saml:Conditions NotBefore="${new Date(now.getTime() - 60_000).toISOString()}" NotOnOrAfter="${later}"><saml:AudienceRestriction><saml:Audience>${SP}</saml:Audience></saml:AudienceRestriction></saml:Conditions>` +
      `<saml:AuthnStatement AuthnInstant="${now.toISOString()}"/>` +
      `<saml:AttributeStatement><saml:Attribute Name="email"><saml:AttributeValue>${email}</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>` +
      `</saml:Assertion>`
    );
  }
  /** The IdP's enveloped signature over one assertion (by its ID). */
  function signed(xml: string): string {
    const sig = new SignedXml({ privateKey: key, signatureAlgorithm: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256", canonicalizationAlgorithm: "http://www.w3.org/2001/10/xml-exc-c14n#" });
    sig.addReference({ xpath: "//*[local-name(.)='Assertion']", digestAlgorithm: "http://www.w3.org/2001/04/xmlenc#sha256", transforms: ["http://www.w3.org/2000/09/xmldsig#enveloped-signature", "http://www.w3.org/2001/10/xml-exc-c14n#"] });
    sig.computeSignature(xml, { location: { reference: "//*[local-name(.)='Assertion']/*[local-name(.)='Issuer']", action: "after" } });
    return sig.getSignedXml();
  }
  function response(requestId: string, inner: string) {
    return (
      `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r${randomUUID()}" Version="2.0" IssueInstant="${new Date().toISOString()}" Destination="${ACS}" InResponseTo="${requestId}">` +
      `<saml:Issuer>${IDP}</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>${inner}</samlp:Response>`
    );
  }
  const validate = (xml: string) => validateSamlResponse(handle.db, cfg, PUBLIC_URL, Buffer.from(xml).toString("base64"));
  const refusal = (xml: string) =>
    validate(xml).then(
      (id) => `accepted as ${id.email}`,
      (err: Error) => (err instanceof GatehouseError ? err.message : `crashed: ${err.message}`),
    );

  it("held (control): the IdP's own signed assertion signs its user in", async () => {
    const rid = newRequestId();
    expect((await validate(response(rid, signed(assertion(rid, "mallory@example.test"))))).email).toBe("mallory@example.test");
  });

  it("held: a forged assertion beside, before or wrapped around the signed one is refused", async () => {
    const variants: Record<string, (rid: string) => string> = {
      "forged first, signed second": (rid) => response(rid, assertion(rid, "admin@example.test") + signed(assertion(rid, "mallory@example.test"))),
      "signed first, forged second": (rid) => response(rid, signed(assertion(rid, "mallory@example.test")) + assertion(rid, "admin@example.test")),
      "signed one hidden in Extensions": (rid) => response(rid, `<samlp:Extensions>${signed(assertion(rid, "mallory@example.test"))}</samlp:Extensions>${assertion(rid, "admin@example.test")}`),
      "forged one reusing the signed one's ID": (rid) => {
        const good = signed(assertion(rid, "mallory@example.test", "_same"));
        return response(rid, `<samlp:Extensions>${good}</samlp:Extensions>${assertion(rid, "admin@example.test", "_same")}`);
      },
      "forged one nested inside the signed one": (rid) => {
        const good = signed(assertion(rid, "mallory@example.test"));
        return response(rid, good.replace("</saml:Assertion>", `${assertion(rid, "admin@example.test")}</saml:Assertion>`));
      },
      "signed one nested inside a forged one": (rid) => {
        const good = signed(assertion(rid, "mallory@example.test"));
        return response(rid, assertion(rid, "admin@example.test").replace("<saml:AuthnStatement", `${good}<saml:AuthnStatement`));
      },
    };
    for (const [name, build] of Object.entries(variants)) {
      const answer = await refusal(build(newRequestId()));
      expect(answer, name).toMatch(/^SAML response refused/);
    }
  });

  it("held: a comment the IdP signed inside an email does not cut it short (admin@example.test<!---->.evil.test stays the attacker's own address)", async () => {
    const rid = newRequestId();
    // The IdP signs what its user registered; canonicalization drops the comment, so the signature holds.
    const answer = await refusal(response(rid, signed(assertion(rid, "admin@example.test<!---->.evil.test"))));
    expect(answer).toBe("accepted as admin@example.test.evil.test");
  });
});

/**
 * External OIDC tokens whose header tries to choose the key they are checked with: an embedded
 * `jwk`, a `jku` or `x5u` pointing at the attacker's keys, or the issuer's `kid` on the attacker's
 * signature. Verified in-process with the token exchange's own verifier against a local JWKS.
 */
describe("identity hunt: OIDC key confusion", () => {
  const ISSUER = "https://idp.example.test";
  const AUDIENCE = "gatehouse-test";
  let jwksServer: http.Server;
  let attackerJwks: http.Server;
  let good: { privateKey: CryptoKey; jwk: JWK };
  let evil: { privateKey: CryptoKey; jwk: JWK };
  let cfg: { issuer: string; audience: string; jwksUrl: string; groupsClaim: string };
  let attackerUrl: string;

  async function keyPair(kid: string) {
    const { privateKey, publicKey } = await generateKeyPair("RS256", { extractable: true });
    return { privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" } };
  }
  async function serve(keys: JWK[]) {
    const server = http.createServer((_req, res) => res.end(JSON.stringify({ keys })));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks` };
  }

  beforeAll(async () => {
    good = await keyPair("idp-1");
    evil = await keyPair("idp-1");
    const idp = await serve([good.jwk]);
    const attacker = await serve([evil.jwk]);
    [jwksServer, attackerJwks, attackerUrl] = [idp.server, attacker.server, attacker.url];
    cfg = { issuer: ISSUER, audience: AUDIENCE, jwksUrl: idp.url, groupsClaim: "groups" };
  });
  afterAll(() => {
    jwksServer?.close();
    attackerJwks?.close();
  });

  const token = (key: CryptoKey, header: Record<string, unknown>, claims: Record<string, unknown> = {}) =>
    new SignJWT({ email: "admin@example.test", email_verified: true, ...claims })
      .setProtectedHeader({ alg: "RS256", ...header })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject("user-1")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(key);
  const verdict = (t: string) =>
    verifyExternalToken(t, cfg).then(
      (id) => `accepted as ${id.email}`,
      (err: Error) => err.message,
    );

  it("held: the issuer's keys decide, not the token's header", async () => {
    expect(await verdict(await token(good.privateKey, { kid: "idp-1" }))).toBe("accepted as admin@example.test");
    const { d: _d, ...evilPublic } = evil.jwk as JWK & { d?: string };
    for (const header of [{ kid: "idp-1" }, { kid: "idp-1", jwk: evilPublic }, { jku: attackerUrl }, { kid: "idp-1", jku: attackerUrl }, { x5u: attackerUrl }, {}]) {
      expect(await verdict(await token(evil.privateKey, header)), JSON.stringify(header)).toMatch(/^external token refused/);
    }
    // Another issuer spelled almost the same, and a token not valid yet.
    expect(await verdict(await new SignJWT({ email: "admin@example.test" }).setProtectedHeader({ alg: "RS256", kid: "idp-1" }).setIssuer(`${ISSUER}/`).setAudience(AUDIENCE).setSubject("u").setExpirationTime("5m").sign(good.privateKey))).toMatch(/iss is not valid here/);
    expect(await verdict(await token(good.privateKey, { kid: "idp-1" }, { nbf: Math.floor(Date.now() / 1000) + 600 }))).toMatch(/nbf is not valid here/);
  });
});
