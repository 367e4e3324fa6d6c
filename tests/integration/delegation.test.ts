import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";

/**
 * Nested agents: user → agent → two children, by RFC 8693 exchange over HTTP and through the
 * CLI. Children never exceed their parent (scope, lifetime, depth), carry the stored chain, and
 * die with their parent.
 */
describe("delegation chains", () => {
  let gh: GatehouseProcess;
  let user: string;

  async function exchange(subject: string, extra: Record<string, string>) {
    const res = await fetch(`${gh.url}/api/v1/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: subject, subject_token_type: "urn:ietf:params:oauth:token-type:jwt", ...extra }),
    });
    return { status: res.status, body: await res.json() };
  }

  const cli = (args: string[], token: string) => runCli(args, { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token, HOME: gh.dataDir } });

  beforeAll(async () => {
    gh = await startGatehouse();
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await apiCall(gh.url, admin, "POST", "/users", { email: "dev@example.test", password: "dev-password-123", role: "member" });
    const personal = await apiCall(gh.url, await login(gh.url, "dev@example.test", "dev-password-123"), "POST", "/tokens", { name: "laptop", ttlSeconds: 7200, connections: ["demo-postgres", "other"] });
    user = personal.body.token;
  });
  afterAll(async () => {
    await teardown(gh);
  });

  it("user → agent → two children, each carrying the stored chain", async () => {
    const agent = await exchange(user, { actor: "claude", scope: "connection:demo-postgres", expires_in: "3600" });
    expect(agent.status).toBe(200);
    expect(agent.body).toMatchObject({ token_type: "Bearer", issued_token_type: "urn:ietf:params:oauth:token-type:jwt", depth: 1, scope: "connection:demo-postgres action:*" });

    const c1 = await cli(["tokens", "exchange", "--actor", "researcher", "--ttl", "30m", "--json"], agent.body.access_token);
    const c2 = await cli(["tokens", "exchange", "--actor", "writer", "--actions", "connect,read"], agent.body.access_token);
    expect(c1.code).toBe(0);
    expect(c2.code).toBe(0);
    const child1 = JSON.parse(c1.stdout).access_token as string;
    const child2 = c2.stdout.trim();

    const me = await apiCall(gh.url, child1, "GET", "/me");
    expect(me.body.chain.map((a: { name: string }) => a.name)).toEqual(["dev@example.test", "claude", "researcher"]);
    // The JWT's act claim nests the current actor outermost (RFC 8693 §4.1).
    const claims = JSON.parse(Buffer.from(child1.split(".")[1], "base64url").toString());
    expect(claims).toMatchObject({ sub: me.body.id, depth: 2, act: { sub: "agent:researcher", act: { sub: "agent:claude" } } });
    expect((await apiCall(gh.url, child2, "GET", "/me")).status).toBe(200);

    // A child may not widen scope, outlive its parent, or go deeper than the maximum (3).
    expect((await exchange(agent.body.access_token, { actor: "x", scope: "connection:other" })).body.error).toBe("invalid_scope");
    expect((await exchange(agent.body.access_token, { actor: "x", scope: "connection:*" })).body.error).toBe("invalid_scope");
    expect((await exchange(child2, { actor: "x", scope: "action:write" })).body.error).toBe("invalid_scope");
    const longer = await exchange(agent.body.access_token, { actor: "x", expires_in: String(2 * 3600) });
    expect(longer.body).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("outlive") });
    const d3 = await exchange(child1, { actor: "d3" });
    expect(d3.body.depth).toBe(3);
    expect((await exchange(d3.body.access_token, { actor: "d4" })).body).toMatchObject({ error: "invalid_request", error_description: expect.stringContaining("depth") });

    // A delegated agent cannot administer anything, even when its human could.
    expect((await apiCall(gh.url, child1, "POST", "/tokens", { name: "escape" })).status).toBe(403);

    // Revoking the agent's token revokes both children (and the grandchild) at once, and closes
    // their open WebSockets (authorization ended).
    const ws = new WebSocket(`ws://127.0.0.1:${gh.port}/ws/events`, { headers: { authorization: `Bearer ${child1}` } });
    await new Promise((resolve, reject) => (ws.once("open", resolve), ws.once("error", reject)));
    const closed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));
    const agentId = agent.body.token_id as string;
    expect((await apiCall(gh.url, user, "DELETE", `/tokens/${agentId}`)).status).toBe(200);
    for (const t of [agent.body.access_token, child1, child2, d3.body.access_token]) expect((await apiCall(gh.url, t, "GET", "/me")).status).toBe(401);
    expect(await Promise.race([closed, new Promise((r) => setTimeout(() => r("still open"), 2000))])).toBe(4401);
    expect((await apiCall(gh.url, user, "GET", "/me")).status).toBe(200);
  });

  it("refuses forged chains, tampered and alg:none subject tokens", async () => {
    const agent = await exchange(user, { actor: "claude" });
    const [h, p, s] = (agent.body.access_token as string).split(".");
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, depth: 0, act: undefined })).toString("base64url");
    expect((await exchange(`${h}.${forged}.${s}`, { actor: "y" })).body.error).toBe("invalid_grant");
    expect((await apiCall(gh.url, `${h}.${forged}.${s}`, "GET", "/me")).status).toBe(401);
    const none = Buffer.from(JSON.stringify({ alg: "none", typ: "JWT" })).toString("base64url");
    expect((await exchange(`${none}.${p}.`, { actor: "y" })).body.error).toBe("invalid_grant");
    expect((await exchange(user, { actor: "bad name!" })).body.error).toBe("invalid_request");
    expect((await exchange(user, { actor: "ok", grant_type: "password" })).body.error).toBe("unsupported_grant_type");
  });

  it("tickets are single-use connection credentials, refused by the REST API", async () => {
    const t = await cli(["tokens", "ticket", "--connection", "demo-postgres", "--json"], user);
    expect(t.code).toBe(0);
    const { ticket, expiresAt } = JSON.parse(t.stdout);
    expect(new Date(expiresAt).getTime() - Date.now()).toBeLessThanOrEqual(60_000);
    expect((await apiCall(gh.url, ticket, "GET", "/me")).status).toBe(401);
    expect((await exchange(ticket, { actor: "z" })).body.error).toBe("invalid_grant");
    const wider = await cli(["tokens", "ticket", "--connection", "not-in-scope", "--json"], user);
    expect(wider.code).toBe(1);
  });
});
