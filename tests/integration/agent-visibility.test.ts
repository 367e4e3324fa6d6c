import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { apiCall, exchangeToken, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { addApprover, addUser } from "../support/api-fixture";

/**
 * An agent token sees what its own branch of the delegation tree did (itself and the agents it
 * spawned), never what its human or a sibling agent did: approval requests carry statement text,
 * parameters and reasons; grants say who asked for what; live session events name connections.
 * And an agent cannot use up its human's budget of pending approval requests.
 * Real Gatehouse, tokens from the real token exchange, real postgres.js sessions.
 */
describe("an agent sees its own branch: approvals, grants, live events, pending budget", () => {
  let gh: GatehouseProcess;
  let admin: string;
  let approver: string;
  let human: string;
  let claude: string;
  let codex: string;
  let researcher: string;
  const USER = "dev@example.test";

  const ask = (token: string, reason: string) => apiCall(gh.url, token, "POST", "/access-requests", { connection: "demo-postgres", durationSeconds: 600, reason });
  /** a /ws/events listener collecting what it is sent */
  const listen = (token: string) => {
    const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/events`, { headers: { authorization: `Bearer ${token}` } });
    const topics: { topic: string; data: Record<string, any> }[] = [];
    ws.on("message", (d) => topics.push(JSON.parse(d.toString())));
    return { ws, topics, opened: new Promise((r) => ws.once("open", r)) };
  };
  const idsSeenBy = async (token: string) => ((await apiCall(gh.url, token, "GET", "/approvals?status=all&limit=500")).body.approvals as { id: number }[]).map((a) => a.id);

  beforeAll(async () => {
    gh = await startGatehouse();
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const user = await addUser(gh, admin, USER);
    approver = await addApprover(gh, admin);
    human = (await apiCall(gh.url, user, "POST", "/tokens", { name: "root", ttlSeconds: 7200 })).body.token as string;
    claude = (await exchangeToken(gh.url, human, "claude")).access_token;
    codex = (await exchangeToken(gh.url, human, "codex")).access_token;
    researcher = (await exchangeToken(gh.url, claude, "researcher")).access_token;
  }, 120_000);

  afterAll(async () => {
    await teardown(gh);
  });

  it("approval requests: an agent reads, lists and waits on its branch's only; its human sees them all", async () => {
    const ids: Record<string, number> = {};
    for (const [who, token] of [["human", human], ["claude", claude], ["codex", codex], ["researcher", researcher]] as const) {
      const res = await ask(token, `INC-9: ${who} asks`);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      ids[who] = res.body.approval.id;
    }
    expect((await idsSeenBy(human)).sort()).toEqual(Object.values(ids).sort());
    expect((await idsSeenBy(claude)).sort()).toEqual([ids.claude, ids.researcher].sort());
    expect(await idsSeenBy(researcher)).toEqual([ids.researcher]);
    expect(await idsSeenBy(codex)).toEqual([ids.codex]);

    for (const id of [ids.human, ids.codex]) {
      const read = await apiCall(gh.url, claude, "GET", `/approvals/${id}`);
      expect(read.status).toBe(404);
      expect(JSON.stringify(read.body)).not.toContain("INC-9");
      expect((await apiCall(gh.url, claude, "GET", `/approvals/${id}/wait?timeout=0`)).status).toBe(404);
    }
    expect((await apiCall(gh.url, claude, "GET", `/approvals/${ids.researcher}`)).body.approval).toMatchObject({ id: ids.researcher, reason: "INC-9: researcher asks" });
    expect((await apiCall(gh.url, claude, "GET", `/approvals/${ids.claude}/wait?timeout=0`)).body).toMatchObject({ status: "pending", decided: false });
    expect((await apiCall(gh.url, human, "GET", `/approvals/${ids.codex}`)).status).toBe(200);
    // The approvers' queue is unchanged.
    expect(await idsSeenBy(approver)).toEqual(expect.arrayContaining(Object.values(ids)));

    for (const id of Object.values(ids)) expect((await apiCall(gh.url, approver, "POST", `/approvals/${id}/deny`, { comment: "not now" })).status).toBe(200);
  });

  it("grants: an agent lists those that hold for it and those its branch asked for, not its sibling's", async () => {
    const granted: Record<string, string> = {};
    for (const [who, token] of [["human", human], ["claude", claude], ["codex", codex], ["researcher", researcher]] as const) {
      const res = await ask(token, `INC-10: ${who} asks`);
      expect((await apiCall(gh.url, approver, "POST", `/approvals/${res.body.approval.id}/approve`, {})).status).toBe(200);
      granted[who] = (await apiCall(gh.url, approver, "GET", `/approvals/${res.body.approval.id}`)).body.approval.grant.id;
    }
    const grantsOf = async (token: string) => ((await apiCall(gh.url, token, "GET", "/grants?active=1")).body.grants as { id: string }[]).map((g) => g.id).sort();
    expect(await grantsOf(human)).toEqual(Object.values(granted).sort());
    // The human's own grant holds for every agent of theirs; the researcher's was asked by claude's branch.
    expect(await grantsOf(claude)).toEqual([granted.human, granted.claude, granted.researcher].sort());
    // A child sees what holds for it: its human's, its parent's, its own.
    expect(await grantsOf(researcher)).toEqual([granted.human, granted.claude, granted.researcher].sort());
    expect(await grantsOf(codex)).toEqual([granted.human, granted.codex].sort());
    // Their revocations are heard live by the same rule.
    const ears = { claude: listen(claude), codex: listen(codex) };
    await Promise.all(Object.values(ears).map((e) => e.opened));
    for (const id of Object.values(granted)) expect((await apiCall(gh.url, approver, "DELETE", `/grants/${id}`)).status).toBe(200);
    const revoked = (who: keyof typeof ears) => ears[who].topics.filter((m) => m.topic === "grant.revoked").map((m) => m.data.id as string).sort();
    await expect.poll(() => revoked("claude")).toEqual([granted.human, granted.claude, granted.researcher].sort());
    await expect.poll(() => revoked("codex")).toEqual([granted.human, granted.codex].sort());
    for (const e of Object.values(ears)) e.ws.close();
  });

  it("/ws/events: an agent hears of its own sessions, not of its human's or its sibling's", async () => {
    const ears = { human: listen(human), claude: listen(claude), codex: listen(codex) };
    await Promise.all(Object.values(ears).map((e) => e.opened));
    const sessionIds: Record<string, string> = {};
    for (const [who, token] of [["human", human], ["claude", claude], ["codex", codex]] as const) {
      const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: USER, password: token, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 10 });
      await sql`select 1`;
      await sql.end({ timeout: 1 });
      await expect.poll(() => ears.human.topics.filter((m) => m.topic === "session.ended").length, { timeout: 10_000 }).toBe(Object.keys(sessionIds).length + 1);
      sessionIds[who] = ears.human.topics.filter((m) => m.topic === "session.ended").at(-1)!.data.id;
    }
    const heard = (who: keyof typeof ears) => [...new Set(ears[who].topics.filter((m) => m.topic.startsWith("session.")).map((m) => m.data.id))].sort();
    expect(heard("human")).toEqual(Object.values(sessionIds).sort());
    await expect.poll(() => heard("claude")).toEqual([sessionIds.claude]);
    expect(heard("codex")).toEqual([sessionIds.codex]);
    for (const e of Object.values(ears)) e.ws.close();
  });

  it("an agent reads the sessions it opened with a connection ticket; its sibling does not", async () => {
    const minted = await apiCall(gh.url, claude, "POST", "/tokens/ticket", { connection: "demo-postgres" });
    expect(minted.status, JSON.stringify(minted.body)).toBe(200);
    const sql = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "demo-postgres", username: USER, password: minted.body.ticket, ssl: false, max: 1, onnotice: () => {}, connect_timeout: 10 });
    await sql`select 'via-ticket'`;
    await sql.end({ timeout: 1 });
    const listedFor = async (token: string) => ((await apiCall(gh.url, token, "GET", "/sessions?limit=500")).body.sessions as { id: string }[]).map((s) => s.id);
    const [ticketSession] = await listedFor(human); // newest first
    // the recorder stores events in batches: the statement may not be stored yet
    await expect.poll(async () => JSON.stringify((await apiCall(gh.url, human, "GET", `/sessions/${ticketSession}/events`)).body), { timeout: 10_000 }).toContain("via-ticket");
    expect(await listedFor(claude)).toContain(ticketSession);
    expect((await apiCall(gh.url, claude, "GET", `/sessions/${ticketSession}`)).status).toBe(200);
    expect(await listedFor(codex)).not.toContain(ticketSession);
    expect((await apiCall(gh.url, codex, "GET", `/sessions/${ticketSession}`)).status).toBe(404);
  });

  it("an agent filling its pending-request budget leaves its human's (and its sibling's) untouched", async () => {
    let refused: { status: number; body: any } | undefined;
    for (let i = 0; i < 40 && !refused; i++) {
      const res = await ask(i % 2 ? researcher : claude, `flood ${i}`);
      if (res.status !== 200) refused = res;
    }
    expect(refused?.status).toBe(429);
    expect(JSON.stringify(refused?.body)).toMatch(/waiting/);
    for (const token of [human, codex]) expect((await ask(token, "still mine to ask")).status).toBe(200);
    // The budget is the branch's: the child cannot ask around its parent's full budget either.
    expect((await ask(researcher, "around it")).status).toBe(429);
  });
});
