import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { connectOutcome } from "../support/gateway-pg";
import { addApprover, addUser } from "../support/api-fixture";


/**
 * Just-in-time access belongs to whoever asked for it in the delegation chain: a grant approved
 * for one agent lets that agent and the agents it spawns in, never its human or a sibling agent.
 * A grant the human asked for themself holds for all of their sessions. Real postgres.js clients
 * through a real Gatehouse, tokens from the real token exchange.
 */
const POLICIES = `${DEFAULT_POLICIES}
@id("jit")
@reason("this connection needs an access grant")
forbid (principal, action == Gatehouse::Action::"connect", resource)
when { resource.tags.contains("jit") && !context.grants.active };
`;

describe("access grants are bound to the actor that asked", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let approver: string;
  const USER = "dev@example.test";

  const exchange = async (subject: string, actor: string) => (await exchangeToken(gh.url, subject, actor)).access_token;
  /** Connects and runs one statement: "ok", or the error the gateway answered with. */
  const tryConnect = (password: string) => connectOutcome(gh.ports.postgres, { password, user: USER });
  /** `token` asks for access; the approver approves it. */
  async function grant(token: string, reason: string) {
    const asked = await apiCall(gh.url, token, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    const decided = await apiCall(gh.url, approver, "POST", `/approvals/${asked.body.approval.id}/approve`, {});
    expect(decided.status, JSON.stringify(decided.body)).toBe(200);
    return asked.body.approval.id as number;
  }

  beforeAll(async () => {
    gh = await startGatehouse();
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    await addUser(gh, admin, USER);
    approver = await addApprover(gh, admin);
    expect((await apiCall(gh.url, admin, "PATCH", "/connections/demo-postgres", { tags: ["jit"] })).status).toBe(200);
    expect((await apiCall(gh.url, admin, "PUT", "/policies", { text: POLICIES, comment: "jit" })).status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await teardown(gh);
  });

  it("an agent's grant lets in that agent and its children; its human and its sibling stay out until the human asks", async () => {
    const human = (await apiCall(gh.url, await login(gh.url, USER, "a-long-password-1"), "POST", "/tokens", { name: "root", ttlSeconds: 7200 })).body.token as string;
    const claude = await exchange(human, "claude");
    const sibling = await exchange(human, "codex");
    const refused = /this connection needs an access grant/;
    expect(await tryConnect(claude)).toMatch(refused);

    const id = await grant(claude, "INC-7: claude investigates");
    const child = await exchange(claude, "researcher");
    expect(await tryConnect(claude)).toBe("ok");
    expect(await tryConnect(child)).toBe("ok");
    expect(await tryConnect(sibling)).toMatch(refused);
    expect(await tryConnect(human)).toMatch(refused);

    // The grant says whom it is for.
    const listed = (await apiCall(gh.url, approver, "GET", "/grants?active=1")).body.grants as Record<string, any>[];
    expect(listed.find((g) => g.requestId === id)).toMatchObject({ user: USER, connection: "demo-postgres", actor: `${USER} → claude` });

    // The human's own grant holds for all of their sessions.
    const own = await grant(human, "INC-7: I look myself");
    expect(await tryConnect(human)).toBe("ok");
    expect(await tryConnect(sibling)).toBe("ok");
    expect(((await apiCall(gh.url, approver, "GET", "/grants?active=1")).body.grants as Record<string, any>[]).find((g) => g.requestId === own)).toMatchObject({ actor: null });
  });

  it("policies test --token simulates as that token: the grant its agent obtained counts; members simulate only as themselves", async () => {
    const OPS = "ops@example.test";
    const opsLogin = await addUser(gh, admin, OPS);
    const opsRoot = (await apiCall(gh.url, opsLogin, "POST", "/tokens", { name: "root", ttlSeconds: 7200 })).body.token as string;
    const agent = await exchangeToken(gh.url, opsRoot, "claude");
    const sibling = await exchangeToken(gh.url, opsRoot, "codex");
    await grant(agent.access_token, "INC-8: claude looks");
    const verdict = async (caller: string, body: Record<string, unknown>) => {
      const res = await apiCall(gh.url, caller, "POST", "/policies/simulate", { connection: "demo-postgres", ...body });
      return res.status === 200 ? (res.body.simulation.verdict.type as string) : res.status;
    };
    expect(await verdict(admin, { token: agent.token_id })).toBe("allow");
    expect(await verdict(admin, { token: agent.token_id, agents: ["researcher"] })).toBe("allow"); // a child holds its parent's grant
    expect(await verdict(admin, { token: sibling.token_id })).toBe("deny");
    expect(await verdict(admin, { principal: OPS, agents: ["claude"] })).toBe("deny"); // a hypothetical claude holds no token
    expect(await verdict(admin, { principal: USER, token: agent.token_id })).toBe(400);
    // Members: their own tokens yes; someone else, or someone else's token, no (and ids cannot be probed).
    expect(await verdict(opsLogin, { token: agent.token_id })).toBe("allow");
    const devLogin = await login(gh.url, USER, "a-long-password-1");
    expect(await verdict(devLogin, { token: agent.token_id })).toBe(404);
    expect(await verdict(devLogin, { principal: OPS })).toBe(403);
    expect(await verdict(devLogin, { principal: "nobody@example.test" })).toBe(403);
    const child = await exchangeToken(gh.url, agent.access_token, "researcher");
    expect(await verdict(admin, { token: child.token_id })).toBe("allow");
    await apiCall(gh.url, opsLogin, "DELETE", `/tokens/${agent.token_id}`);
    expect(await verdict(admin, { token: agent.token_id })).toBe(400);
    // A token below a revoked one is refused by the gateways before any policy: said so, not simulated.
    expect(await verdict(admin, { token: child.token_id })).toBe(400);
  });
});
