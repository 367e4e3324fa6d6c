import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addConnection, pgUpstream } from "../support/api-fixture";
import { startOidcIdp, type OidcIdp, type SignOptions } from "../support/oidc-idp";
import { startPostgres15 } from "../support/postgres";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";
const ACCESS_TOKEN = "urn:ietf:params:oauth:token-type:access_token";
const AUDIENCE = "gatehouse-api";

/**
 * External identities in RFC 8693 token exchange: a real local identity provider (discovery
 * document + JWKS over HTTP) signs ID and access tokens; a real Gatehouse process discovers its
 * keys, verifies the tokens and maps them to users and groups. Every malformed variant is refused
 * and audited.
 */
describe("OIDC tokens as subject_token", () => {
  let idp: OidcIdp;
  let gh: GatehouseProcess;
  let admin: string;

  beforeAll(async () => {
    idp = await startOidcIdp({ audience: AUDIENCE });
    gh = await startGatehouse({ demo: false, env: { GATEHOUSE_OIDC_ISSUER: idp.issuer, GATEHOUSE_OIDC_AUDIENCE: AUDIENCE, GATEHOUSE_OIDC_GROUPS_CLAIM: "roles" } });
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: "dev@example.test", password: "dev-password-123", groups: ["console-group"] })).status).toBe(200);
  });
  afterAll(async () => {
    await teardown(gh);
    idp?.close();
  });

  /** dev@example.test's token, with its IdP groups in `roles`, unless `claims` say otherwise */
  const sign = (claims: JWTPayload, opts: SignOptions = {}) => idp.sign({ email: "dev@example.test", email_verified: true, roles: ["dba", "oncall", "not a valid group!"], ...claims }, { typ: "JWT", sub: "idp-user-42", ...opts });

  async function exchange(subject: string, extra: Record<string, string> = {}) {
    const res = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: ID_TOKEN, ...extra }),
    });
    return { status: res.status, body: await res.json() };
  }

  async function refusedWith(subject: string, why: string | RegExp, extra: Record<string, string> = {}) {
    const res = await exchange(subject, extra);
    expect(res).toMatchObject({ status: 400, body: { error: "invalid_grant", error_description: expect.stringMatching(why) } });
    expect(res.body.access_token).toBeUndefined();
  }

  it("exchanges a valid ID token for a root Gatehouse token that authenticates", async () => {
    const res = await exchange(await sign({ name: "Dev" }));
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ token_type: "Bearer", issued_token_type: "urn:ietf:params:oauth:token-type:jwt", depth: 0, scope: "connection:* action:*" });
    // Nothing Gatehouse issues outlives the external token (600 s here).
    expect(res.body.expires_in).toBeLessThanOrEqual(600);
    expect(idp.hits).toContain("/.well-known/openid-configuration");
    expect(idp.hits).toContain("/keys");

    const me = await apiCall(gh.url, res.body.access_token, "GET", "/me");
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ email: "dev@example.test", role: "member", via: "token" });
    expect(me.body.chain.map((a: { name: string }) => a.name)).toEqual(["dev@example.test"]);
    // Groups come from the configured claim (invalid names dropped); console-managed ones stay.
    expect(me.body.groups).toEqual(["console-group", "dba", "oncall"]);

    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=20");
    const row = audit.body.entries.find((e: { action: string; subject: string }) => e.action === "token.exchange" && e.subject === `token:${res.body.token_id}`);
    expect(row?.detail).toMatchObject({ via: "oidc", issuer: idp.issuer, externalSubject: "idp-user-42", subjectTokenType: ID_TOKEN, depth: 0, userCreated: false });
  });

  it("groups the identity provider sends at a later exchange reach the user's live gateway sessions", async () => {
    const pg = await startPostgres15();
    await addConnection(gh, admin, "oidc-pg", { ...pgUpstream(pg) });
    const first = await exchange(await sign({}));
    const client = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "oidc-pg", username: "dev@example.test", password: first.body.access_token, ssl: false, max: 1, onnotice: () => {}, connection: { application_name: "oidc-groups" } });
    try {
      await client`select 1`;
      const live = await apiCall(gh.url, admin, "GET", "/sessions?status=live&protocol=postgres&connection=oidc-pg");
      const id = live.body.sessions[0].id as string;
      expect((await exchange(await sign({ roles: ["oncall"] }))).status).toBe(200); // no longer dba
      let change: Record<string, unknown> | undefined;
      for (const deadline = Date.now() + 5_000; !change && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
        change = ((await apiCall(gh.url, admin, "GET", `/sessions/${id}/events`)).body.events as { kind: string; payload: Record<string, unknown> }[]).find((e) => e.kind === "principal")?.payload;
      }
      expect(change).toEqual({ role: "member", groups: ["console-group", "oncall"], before: { role: "member", groups: ["console-group", "dba", "oncall"] } });
    } finally {
      await client.end();
      await pg.stop();
    }
  });

  it("with an actor, issues a narrowed delegated child under the usual rules", async () => {
    const subject = await sign({});
    const agent = await exchange(subject, { actor: "claude", scope: "connection:orders action:read", expires_in: "300" });
    expect(agent.status).toBe(200);
    expect(agent.body).toMatchObject({ depth: 1, scope: "connection:orders action:read", expires_in: 300 });
    const me = await apiCall(gh.url, agent.body.access_token, "GET", "/me");
    expect(me.body.chain.map((a: { name: string }) => a.name)).toEqual(["dev@example.test", "claude"]);
    // The agent exchanges further like any delegated token, and can only narrow.
    const child = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: agent.body.access_token, actor: "sub", scope: "connection:other" }),
    });
    expect(await child.json()).toMatchObject({ error: "invalid_scope" });
    // A lifetime beyond the external token's is refused, not silently granted.
    expect(await exchange(subject, { actor: "claude", expires_in: "3600" })).toMatchObject({ status: 400, body: { error: "invalid_request", error_description: expect.stringContaining("outlive") } });
  });

  it("accepts a JWT access token (typ at+jwt) under the access_token and jwt types", async () => {
    const at = await sign({ scope: "openid" }, { typ: "at+jwt" });
    expect((await exchange(at, { subject_token_type: ACCESS_TOKEN })).status).toBe(200);
    expect((await exchange(at, { subject_token_type: "urn:ietf:params:oauth:token-type:jwt" })).status).toBe(200);
  });

  it("refuses a token for another audience", async () => {
    await refusedWith(await sign({}, { aud: "some-other-app" }), /aud/);
  });

  it("refuses a token from another issuer", async () => {
    await refusedWith(await sign({}, { iss: "https://evil.example" }), /iss/);
    // Without the id_token type it is taken for a Gatehouse token, and refused as one.
    await refusedWith(await sign({}, { iss: "https://evil.example" }), /invalid token/, { subject_token_type: "urn:ietf:params:oauth:token-type:jwt", actor: "x" });
  });

  it("refuses an expired token", async () => {
    await refusedWith(await sign({}, { exp: Math.floor(Date.now() / 1000) - 120 }), /expired/);
  });

  it("refuses alg:none", async () => {
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${enc({ alg: "none", typ: "JWT" })}.${enc({ iss: idp.issuer, aud: AUDIENCE, sub: "idp-user-42", email: "dev@example.test", iat: now, exp: now + 600 })}.`;
    await refusedWith(unsigned, /algorithm not allowed|invalid token/);
  });

  it("refuses HS256 signed with the issuer's public key as the secret", async () => {
    await refusedWith(await sign({}, { alg: "HS256", key: new TextEncoder().encode(idp.publicPem) }), /algorithm not allowed/);
  });

  it("refuses an unknown kid and a valid kid with a foreign signature", async () => {
    const other = await generateKeyPair("RS256");
    await refusedWith(await sign({}, { kid: "k2", key: other.privateKey }), /kid/);
    await refusedWith(await sign({}, { kid: "k1", key: other.privateKey }), /signature/);
  });

  it("refuses unknown users (no auto-create), unverified emails and tokens without email", async () => {
    await refusedWith(await sign({ email: "stranger@example.test" }, { sub: "idp-stranger" }), /no Gatehouse user/);
    const users = await apiCall(gh.url, admin, "GET", "/users");
    expect(JSON.stringify(users.body)).not.toContain("stranger@example.test");
    await refusedWith(await sign({ email_verified: false }), /not verified/);
    await refusedWith(await sign({ email: undefined }), /no email/);
  });

  it("refuses disabled users", async () => {
    const users = await apiCall(gh.url, admin, "GET", "/users");
    const list = (users.body.users ?? users.body) as { id: string; email: string }[];
    const id = list.find((u) => u.email === "dev@example.test")!.id;
    expect((await apiCall(gh.url, admin, "PATCH", `/users/${id}`, { disabled: true })).status).toBe(200);
    await refusedWith(await sign({}), /disabled/);
    expect((await apiCall(gh.url, admin, "PATCH", `/users/${id}`, { disabled: false })).status).toBe(200);
  });

  it("audits refusals", async () => {
    const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=200");
    const refusals = audit.body.entries.filter((e: { action: string; detail: { via?: string } }) => e.action === "token.exchange_refused" && e.detail.via === "oidc");
    const reasons = refusals.map((e: { detail: { reason: string } }) => e.detail.reason).join("\n");
    for (const why of ["aud", "expired", "algorithm not allowed", "kid", "no Gatehouse user", "disabled"]) expect(reasons).toContain(why);
  });
});

describe("OIDC tokens with GATEHOUSE_OIDC_AUTO_CREATE_USERS=1 and an explicit JWKS URL", () => {
  it("creates the user on first use, as a member with the IdP's groups", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: "ec1", alg: "ES256" };
    const idp = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      // No discovery document: the configured JWKS URL must be used as is.
      if (req.url === "/jwks.json") return res.end(JSON.stringify({ keys: [jwk] }));
      res.statusCode = 404;
      res.end("{}");
    });
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    const issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/tenant`;
    const gh = await startGatehouse({
      demo: false,
      env: { GATEHOUSE_OIDC_ISSUER: issuer, GATEHOUSE_OIDC_CLIENT_ID: "console-client", GATEHOUSE_OIDC_JWKS_URL: issuer.replace("/tenant", "/jwks.json"), GATEHOUSE_OIDC_AUTO_CREATE_USERS: "1" },
    });
    try {
      const now = Math.floor(Date.now() / 1000);
      // The audience defaults to the client id: an ID token's aud.
      const idToken = await new SignJWT({ email: "New.Person@Example.test", email_verified: true, groups: ["analysts"] })
        .setProtectedHeader({ alg: "ES256", kid: "ec1" })
        .setIssuer(issuer)
        .setAudience("console-client")
        .setSubject("np")
        .setIssuedAt(now)
        .setExpirationTime(now + 300)
        .sign(pair.privateKey);
      const res = await fetch(`${gh.url}/api/v1/token`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ grant_type: EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN }),
      });
      const body = await res.json();
      expect(res.status).toBe(200);
      const me = await apiCall(gh.url, body.access_token, "GET", "/me");
      expect(me.body).toMatchObject({ email: "new.person@example.test", role: "member", groups: ["analysts"] });
      const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
      const audit = await apiCall(gh.url, admin, "GET", "/audit?limit=20");
      expect(audit.body.entries.some((e: { action: string; subject: string }) => e.action === "user.create" && e.subject === "user:new.person@example.test")).toBe(true);
    } finally {
      await gh.stop();
      fs.rmSync(gh.dataDir, { recursive: true, force: true });
      idp.close();
    }
  });
});
