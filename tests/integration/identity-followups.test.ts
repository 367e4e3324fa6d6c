import type { JWTPayload } from "jose";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { openPglite, type DbHandle } from "@/db/client";
import { mutate } from "@/lib/services/tx";
import { syncExternalUser, type ExternalProfile } from "@/lib/services/users/external-sync";
import { CookieBrowser } from "../support/cookie-jar";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startOidcIdp, type OidcIdp } from "../support/oidc-idp";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const AUDIENCE = "gatehouse-api";
const DEV = "dev@example.test";

/**
 * Follow-ups of the identity hunt, against a real Gatehouse process and a real local OIDC
 * identity provider (discovery + JWKS over HTTP): external identities are pinned to their
 * (issuer, subject) and take over no account by email alone, replayed old IdP tokens cannot give
 * back groups the IdP took away, agents cannot be named like people, out-of-range ids are clean
 * client errors, and no single caller can hold an unbounded number of sockets or long-polls.
 */
describe("identity follow-ups", () => {
  let idp: OidcIdp;
  let gh: GatehouseProcess;
  let admin: string;

  beforeAll(async () => {
    idp = await startOidcIdp({ audience: AUDIENCE });
    gh = await startGatehouse({
      demo: false,
      env: { GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_AUDIENCE: AUDIENCE, GATEHOUSE_OIDC_AUTO_CREATE_USERS: "1", GATEHOUSE_MAX_WEBSOCKETS_PER_CALLER: "3", GATEHOUSE_MAX_WAITS_PER_CALLER: "2" },
    });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: DEV, password: "dev-password-123" })).status).toBe(200);
  });
  afterAll(async () => {
    await teardown(gh);
    idp?.close();
  });

  /** An IdP token; `email_verified` is left out unless given, as many IdPs do. */
  const sign = (sub: string, claims: JWTPayload, iatAgo = 5) => idp.sign(claims, { sub, iatAgo });

  async function exchange(subject: string, extra: Record<string, string> = {}) {
    const res = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: ID_TOKEN, ...extra }),
    });
    return { status: res.status, body: await res.json() };
  }

  describe("external identities are pinned to (issuer, subject)", () => {
    it("an IdP token without email_verified cannot take over the first admin by email", async () => {
      const res = await exchange(await sign("attacker-1", { email: gh.adminEmail }));
      expect(res).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/verified/) } });
      expect(res.body.access_token).toBeUndefined();
    });

    it("nor create an account for an unverified email", async () => {
      const res = await exchange(await sign("attacker-2", { email: "newcomer@example.test" }));
      expect(res).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/verified/) } });
      const users = await apiCall(gh.url, admin, "GET", "/users");
      expect(JSON.stringify(users.body)).not.toContain("newcomer@example.test");
    });

    it("a verified email links the account to that subject only; another subject with the same email is refused", async () => {
      const first = await exchange(await sign("idp-dev", { email: DEV, email_verified: true }));
      expect(first.status).toBe(200);
      expect((await apiCall(gh.url, first.body.access_token, "GET", "/me")).body).toMatchObject({ email: DEV });
      const other = await exchange(await sign("idp-impostor", { email: DEV, email_verified: true }));
      expect(other).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/another identity/) } });
      // The linked subject keeps its account when its email changes at the IdP, verified or not.
      const moved = await exchange(await sign("idp-dev", { email: "dev.renamed@example.test" }));
      expect(moved.status).toBe(200);
      expect((await apiCall(gh.url, moved.body.access_token, "GET", "/me")).body).toMatchObject({ email: DEV });
      const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=50");
      const refused = audit.body.entries.find((e: { action: string; detail: { externalSubject?: string } }) => e.action === "token.exchange_refused" && e.detail.externalSubject === "idp-impostor");
      expect(refused?.detail.reason).toMatch(/another identity/);
    });

    it("an explicit email_verified false is refused even for a linked subject", async () => {
      const res = await exchange(await sign("idp-dev", { email: DEV, email_verified: false }));
      expect(res).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(/not verified/) } });
    });
  });

  describe("a replayed older IdP token cannot give back groups", () => {
    it("syncs groups only from a token at least as new as the last one synced", async () => {
      const old = await sign("idp-grp", { email: "grp@example.test", email_verified: true, groups: ["dba", "oncall"] }, 120);
      expect((await exchange(old)).status).toBe(200);
      const fresh = await exchange(await sign("idp-grp", { email: "grp@example.test", email_verified: true, groups: ["oncall"] }, 5));
      expect(fresh.status).toBe(200);
      expect((await apiCall(gh.url, fresh.body.access_token, "GET", "/me")).body.groups).toEqual(["oncall"]);
      // The old token is still valid at the IdP, so it still authenticates, but it re-syncs nothing.
      const replay = await exchange(old);
      expect(replay.status).toBe(200);
      expect((await apiCall(gh.url, replay.body.access_token, "GET", "/me")).body.groups).toEqual(["oncall"]);
      const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=20");
      const row = audit.body.entries.find((e: { action: string; subject: string }) => e.action === "token.exchange" && e.subject === `token:${replay.body.token_id}`);
      expect(row?.detail).toMatchObject({ groupsSynced: false });
    });
  });

  describe("agents cannot be named like people", () => {
    it("refuses an actor name with @ at token exchange, from a Gatehouse or an external subject", async () => {
      const dev = await login(gh.url, DEV, "dev-password-123");
      for (const actor of ["approver@example.test", gh.adminEmail, "claude@work"]) {
        const res = await fetch(`${gh.url}/api/v1/token`, {
          method: "POST",
          headers: { "content-type": "application/x-www-form-urlencoded" },
          body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: dev, actor }),
        });
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: "invalid_request", error_description: expect.stringMatching(/actor: .*not contain @/) });
      }
      const external = await exchange(await sign("idp-dev", { email: DEV }), { actor: "approver@example.test" });
      expect(external).toMatchObject({ status: 400, body: { error: "invalid_request", error_description: expect.stringMatching(/not contain @/) } });
      // Names agents are usually given still work.
      const ok = await fetch(`${gh.url}/api/v1/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: dev, actor: "claude-code:run_42.a" }),
      });
      expect(ok.status).toBe(200);
    });
  });

  describe("out-of-range ids are client errors, never internal ones", () => {
    const HUGE = ["2147483648", "99999999999", "1e400", "-1", "0x10", "not-an-id", "00000000-0000-0000-0000-00000000000g"];

    it("REST path params answer 400 or 404", async () => {
      const paths = (id: string) => [
        ["GET", `/approvals/${id}`],
        ["GET", `/approvals/${id}/wait?timeout=0`],
        ["POST", `/approvals/${id}/approve`],
        ["POST", `/approvals/${id}/deny`],
        ["POST", `/approvals/${id}/revoke`],
        ["GET", `/policies/versions/${id}`],
        ["GET", `/sessions/${id}`],
        ["GET", `/sessions/${id}/events`],
        ["GET", `/sessions/${id}/export`],
        ["GET", `/sessions/${id}/replay`],
        ["GET", `/sessions/${id}/replay/timeline`],
        ["GET", `/sessions/${id}/terminal`],
        ["POST", `/sessions/${id}/kill`],
        ["DELETE", `/grants/${id}`],
        ["DELETE", `/tokens/${id}`],
        ["DELETE", `/ssh-keys/${id}`],
        ["PATCH", `/users/${id}`],
        ["GET", `/connections/${id}`],
        ["GET", `/masking/${id}`],
      ];
      const bad: string[] = [];
      for (const id of HUGE) {
        for (const [method, path] of paths(encodeURIComponent(id))) {
          const res = await apiCall(gh.url, admin, method, path, method === "GET" || method === "DELETE" ? undefined : { comment: "x", reason: "x" });
          if (![400, 404].includes(res.status)) bad.push(`${method} ${path} -> ${res.status}`);
        }
      }
      for (const version of [2 ** 31, 2 ** 53, -1]) {
        const res = await apiCall(gh.url, admin, "POST", "/policies/rollback", { version });
        if (![400, 404].includes(res.status)) bad.push(`POST /policies/rollback ${version} -> ${res.status}`);
      }
      expect(bad).toEqual([]);
    });

    it("MCP wait_for_approval answers invalid params", async () => {
      const client = new Client({ name: "followups", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${admin}` } } }));
      try {
        for (const approval_id of [2 ** 31, 2 ** 53, 1e300]) {
          const res = (await client.callTool({ name: "wait_for_approval", arguments: { approval_id, timeout_seconds: 0 } })) as CallToolResult;
          const text = res.content.map((c) => (c.type === "text" ? c.text : "")).join("\n");
          expect(res.isError).toBe(true);
          expect(text).toMatch(/Input validation error.*approval_id/s);
        }
      } finally {
        await client.close();
      }
    });
  });

  describe("per-caller caps on open sockets and approval long-polls", () => {
    /** Resolves with the socket once it stayed open a moment, or with the close code it got. */
    function openSocket(token: string): Promise<{ ws: WebSocket; closed: number | null; reason: string }> {
      const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/events`, { headers: { authorization: `Bearer ${token}` } });
      return new Promise((resolve, reject) => {
        ws.once("error", reject);
        ws.once("close", (code, reason) => resolve({ ws, closed: code, reason: reason.toString() }));
        ws.once("open", () => setTimeout(() => ws.readyState === WebSocket.OPEN && resolve({ ws, closed: null, reason: "" }), 300));
      });
    }
    const sockets: WebSocket[] = [];
    afterAll(() => sockets.forEach((ws) => ws.close()));

    it("WebSockets: at most GATEHOUSE_MAX_WEBSOCKETS_PER_CALLER per user, per agent branch; refused with close 1008", async () => {
      const open = async (token: string) => {
        const r = await openSocket(token);
        if (r.closed === null) sockets.push(r.ws);
        return r;
      };
      const mine = [await open(admin), await open(admin), await open(admin)];
      expect(mine.map((r) => r.closed)).toEqual([null, null, null]);
      const fourth = await open(admin);
      expect(fourth).toMatchObject({ closed: 1008, reason: expect.stringMatching(/too many open WebSockets/) });
      // Someone else is not affected; nor is an agent branch, which has its own count, shared with its sub-agents.
      expect((await open(await login(gh.url, DEV, "dev-password-123"))).closed).toBeNull();
      const agent = (await exchangeToken(gh.url, admin, "watcher")).access_token;
      const sub = (await exchangeToken(gh.url, agent, "watcher-child")).access_token;
      expect([(await open(agent)).closed, (await open(agent)).closed, (await open(sub)).closed]).toEqual([null, null, null]);
      expect((await open(sub)).closed).toBe(1008);
      expect((await open(agent)).closed).toBe(1008);
      // Closing one frees its place (once the server saw the close: retry a while, refused ones are closed by it).
      const gone = new Promise((r) => mine[0].ws.once("close", r));
      mine[0].ws.close();
      await gone;
      await expect.poll(async () => (await open(admin)).closed, { timeout: 5000 }).toBeNull();
    });

    it("approval long-polls: at most GATEHOUSE_MAX_WAITS_PER_CALLER at once; the next gets 429 / an MCP tool error", async () => {
      expect((await apiCall(gh.url, admin, "POST", "/connections", { name: "cap-pg", type: "postgres", upstream: "postgres://127.0.0.1:9/postgres", username: "postgres", secret: "x" })).status).toBe(200);
      const dev = await login(gh.url, DEV, "dev-password-123");
      const asked = await apiCall(gh.url, dev, "POST", "/access-requests", { connection: "cap-pg", durationSeconds: 600, reason: "cap test" });
      expect(asked.status).toBe(200);
      const id = asked.body.approval.id as number;
      // Long enough to outlast everything below on a loaded machine; the deny at the end answers them.
      const long = [apiCall(gh.url, dev, "GET", `/approvals/${id}/wait?timeout=30`), apiCall(gh.url, dev, "GET", `/approvals/${id}/wait?timeout=30`)];
      // Both registered once a third is refused (a third that gets through returns at once).
      await expect.poll(async () => (await apiCall(gh.url, dev, "GET", `/approvals/${id}/wait?timeout=0`)).status, { timeout: 10_000 }).toBe(429);
      const third = await apiCall(gh.url, dev, "GET", `/approvals/${id}/wait?timeout=4`);
      expect(third.status).toBe(429);
      expect(JSON.stringify(third.body)).toMatch(/too many approval waits/);
      // An access request that would wait is refused before anything is asked for.
      const before = (await apiCall(gh.url, admin, "GET", "/approvals")).body;
      expect((await apiCall(gh.url, dev, "POST", "/access-requests", { connection: "cap-pg", durationSeconds: 600, reason: "cap test 2", wait: 4 })).status).toBe(429);
      expect((await apiCall(gh.url, admin, "GET", "/approvals")).body).toEqual(before);
      const client = new Client({ name: "followups-cap", version: "1.0.0" });
      await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${dev}` } } }));
      try {
        const res = (await client.callTool({ name: "wait_for_approval", arguments: { approval_id: id, timeout_seconds: 4 } })) as CallToolResult;
        expect(res.isError).toBe(true);
        expect(res.content.map((c) => (c.type === "text" ? c.text : "")).join("")).toMatch(/RATE_LIMITED: too many approval waits/);
        // Another caller (the approver) waits fine meanwhile.
        expect((await apiCall(gh.url, admin, "GET", `/approvals/${id}/wait?timeout=0`)).status).toBe(200);
        expect((await apiCall(gh.url, admin, "POST", `/approvals/${id}/deny`, { reason: "cap test" })).status).toBe(200);
        expect((await Promise.all(long)).map((r) => [r.status, r.body.status])).toEqual([[200, "denied"], [200, "denied"]]);
        // Once they answered, the places are free again.
        const again = (await client.callTool({ name: "wait_for_approval", arguments: { approval_id: id, timeout_seconds: 0 } })) as CallToolResult;
        expect(again.isError).toBeFalsy();
      } finally {
        await client.close();
      }
    });
  });
});

/**
 * The mapping itself, as the SAML ACS and the OIDC console login call it, on an embedded store:
 * SAML has no email_verified, so linking an existing account by its email needs
 * GATEHOUSE_SAML_TRUST_EMAIL (passed here as `trustEmail`); a transient NameID is no identity.
 */
describe("syncExternalUser", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(async () => {
    await handle?.close();
  });
  const saml = (over: Partial<ExternalProfile>): ExternalProfile => ({
    issuer: "https://idp.example.test",
    subject: "opaque-1",
    email: "local@example.test",
    emailVerified: null,
    trustEmail: false,
    name: "",
    groups: ["saml-group"],
    issuedAt: new Date(),
    source: "saml",
    create: true,
    ...over,
  });
  const sync = (p: ExternalProfile) => mutate(handle.db, (tx) => syncExternalUser(tx, p));

  it("does not link an existing account by an email the IdP does not vouch for", async () => {
    await mutate(handle.db, async (tx) => {
      const { users } = await import("@/db/schema");
      await tx.insert(users).values({ email: "local@example.test", passwordHash: "x", role: "admin" });
    });
    expect(await sync(saml({}))).toMatchObject({ ok: false, reason: expect.stringMatching(/GATEHOUSE_SAML_TRUST_EMAIL/) });
    expect(await sync(saml({ trustEmail: true }))).toMatchObject({ ok: true, email: "local@example.test", groupsSynced: true });
    expect(await sync(saml({ subject: "opaque-2", trustEmail: true }))).toMatchObject({ ok: false, reason: expect.stringMatching(/another identity/) });
  });

  it("creates new accounts from a SAML email (auto-create) and pins them", async () => {
    expect(await sync(saml({ subject: "opaque-3", email: "fresh@example.test" }))).toMatchObject({ ok: true, created: true });
    expect(await sync(saml({ subject: "opaque-4", email: "fresh@example.test" }))).toMatchObject({ ok: false });
  });

  it("an account an earlier SAML login created (no password, not yet linked) links on its next SAML login", async () => {
    await mutate(handle.db, async (tx) => {
      const { users } = await import("@/db/schema");
      await tx.insert(users).values({ email: "legacy@example.test", source: "saml" });
      await tx.insert(users).values({ email: "legacy-oidc@example.test", source: "oidc" });
    });
    expect(await sync(saml({ subject: "opaque-legacy", email: "legacy@example.test" }))).toMatchObject({ ok: true, created: false, linked: true });
    expect(await sync(saml({ subject: "opaque-legacy-2", email: "legacy-oidc@example.test" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/GATEHOUSE_SAML_TRUST_EMAIL/) });
  });

  it("refuses a transient NameID: it names nobody for long", async () => {
    expect(await sync(saml({ subject: "", email: "fresh2@example.test" }))).toMatchObject({ ok: false, reason: expect.stringMatching(/subject/) });
  });
});

/**
 * Console OIDC login (next-auth's authorization-code flow with PKCE and state) against a real local
 * IdP: discovery, authorize, token endpoint and JWKS. The ID token's claims go through the same
 * mapping as token exchange.
 */
describe("console OIDC login", () => {
  let idp: OidcIdp;
  let gh: GatehouseProcess;

  beforeAll(async () => {
    idp = await startOidcIdp({ audience: "console-client", clientId: "console-client" });
    gh = await startGatehouse({ demo: false, env: { GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_CLIENT_ID: "console-client", GATEHOUSE_OIDC_CLIENT_SECRET: "console-secret" } });
  });
  afterAll(async () => {
    await teardown(gh);
    idp?.close();
  });

  /** Clicks "Sign in with SSO" as someone with these ID-token claims; returns who the console session is, if any. */
  async function signInAs(claims: JWTPayload): Promise<{ email: string } | null> {
    idp.signInNext(claims);
    const browser = new CookieBrowser();
    const { csrfToken } = await (await browser.fetch(`${gh.url}/api/auth/csrf`)).json();
    const start = await browser.fetch(`${gh.url}/api/auth/signin/oidc`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded", origin: gh.url },
      body: new URLSearchParams({ csrfToken, callbackUrl: "/connections", json: "true" }),
    });
    const authorize = (await start.json()).url as string;
    expect(authorize.startsWith(`${idp.issuer}/authorize`)).toBe(true);
    const back = (await browser.fetch(authorize)).headers.get("location")!;
    const done = await browser.fetch(back);
    expect(done.status).toBe(302);
    const session = browser.jar.get("gatehouse.session");
    if (!session) return null;
    const me = await fetch(`${gh.url}/api/v1/me`, { headers: { cookie: `gatehouse.session=${session}` } });
    return me.status === 200 ? ((await me.json()) as { email: string }) : null;
  }

  it("signs in a verified identity, and refuses one without email_verified claiming the first admin", async () => {
    expect(await signInAs({ sub: "takeover", email: gh.adminEmail })).toBeNull();
    expect(await signInAs({ sub: "takeover", email: gh.adminEmail, email_verified: false })).toBeNull();
    expect(await signInAs({ sub: "console-user", email: "console.user@example.test", email_verified: true })).toMatchObject({ email: "console.user@example.test" });
    // Pinned: another subject with that (verified) email is refused; the linked one is not.
    expect(await signInAs({ sub: "console-impostor", email: "console.user@example.test", email_verified: true })).toBeNull();
    expect(await signInAs({ sub: "console-user", email: "console.user@example.test" })).toMatchObject({ email: "console.user@example.test" });
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=50");
    const reasons = audit.body.entries.filter((e: { action: string; detail: { via?: string } }) => e.action === "auth.login_failed" && e.detail.via === "oidc").map((e: { detail: { reason: string } }) => e.detail.reason);
    expect(reasons.join("\n")).toMatch(/not verified/);
    expect(reasons.join("\n")).toMatch(/another identity/);
  });
});
