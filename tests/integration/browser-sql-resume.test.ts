import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { addApprover, addConnection, addUser, pgUpstream, putPolicies, TEST_PASSWORD, type Rec } from "../support/api-fixture";
import { consoleSignIn } from "../support/console-cookie";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * The SQL console across a network loss, against a real Gatehouse and a real PostgreSQL 15: the
 * gateway connection (and its transaction, a running or held statement) waits for the browser to
 * come back with its resume token, which only the credential that opened it may use.
 */
const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("members-read-write")
permit (principal is Gatehouse::User, action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource)
when { principal.role == "member" };

@id("marked-held")
@hold("approvers")
permit (principal, action, resource)
when { context.request.text like "*approve-me*" };
`;

const MEMBER = "resumer@example.test";
const OTHER = "someone-else@example.test";
const GRACE_MS = 8_000;
type Socket = ReturnType<typeof connect>;

/** A console socket with every message it got and how it closed. */
function connect(url: string, headers: Record<string, string>) {
  const ws = new WebSocket(url, { headers });
  const messages: Rec[] = [];
  let closed: number | null = null;
  ws.on("message", (d) => messages.push(JSON.parse(d.toString())));
  ws.on("close", (code) => (closed = code));
  ws.on("error", () => {});
  const opened = new Promise<void>((resolve) => ws.once("open", () => resolve()));
  const find = (pred: (m: Rec) => boolean) => messages.find(pred);
  const waitFor = async (pred: (m: Rec) => boolean, timeout = 20_000) => {
    await expect.poll(() => find(pred), { timeout }).toBeTruthy();
    return find(pred)!;
  };
  const lastSeq = () => Math.max(0, ...messages.map((m) => Number(m.seq) || 0));
  return { ws, messages, opened, waitFor, lastSeq, closed: () => closed };
}

describe("browser SQL console: reconnecting after a network loss", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let admin = "";
  let approver = "";
  let member = "";
  let cookie = "";
  let otherCookie = "";
  let direct: postgres.Sql;
  let nextId = 1;

  const base = (connection = "app-db") => `${gh.url.replace(/^http/, "ws")}/ws/sql/${connection}`;
  const open = (connection = "app-db", headers: Record<string, string> = { cookie, origin: gh.url }) => connect(base(connection), headers);
  const resume = (from: Socket, token: string, headers: Record<string, string> = { cookie, origin: gh.url }, connection = "app-db") =>
    connect(`${base(connection)}?${new URLSearchParams({ resume: token, after: String(from.lastSeq()) })}`, headers);
  const send = (c: Socket, sql: string) => {
    const id = nextId++;
    c.ws.send(JSON.stringify({ type: "run", id, sql }));
    return id;
  };
  const run = async (c: Socket, sql: string) => c.waitFor(((id) => (m: Rec) => m.id === id && (m.type === "result" || m.type === "error"))(send(c, sql)));
  /** A console that has opened its session, and its resume token. */
  const started = async () => {
    const c = open();
    const ready = await c.waitFor((m) => m.type === "ready");
    expect((await run(c, "select 1")).type).toBe("result");
    const session = await c.waitFor((m) => m.type === "session");
    return { c, token: ready.resumeToken as string, sessionId: session.sessionId as string };
  };
  const sessionStatus = async (id: string) => (await apiCall(gh.url, admin, "GET", `/sessions/${id}`)).body.session?.status;

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_TERMINAL_GRACE_MS: String(GRACE_MS) } }), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    member = await addUser(gh, admin, MEMBER);
    await addUser(gh, admin, OTHER);
    approver = await addApprover(gh, admin);
    await addConnection(gh, admin, "app-db", pgUpstream(pg15));
    await addConnection(gh, admin, "other-db", pgUpstream(pg15));
    await putPolicies(gh, admin, POLICIES, "resume");
    direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table notes (id int primary key, body text)");
    cookie = (await consoleSignIn(gh.url, MEMBER, TEST_PASSWORD)).header;
    otherCookie = (await consoleSignIn(gh.url, OTHER, TEST_PASSWORD)).header;
  }, 180_000);

  afterAll(async () => {
    await direct?.end();
    await teardown(gh, pg15);
  });

  it("the transaction carries over a dropped connection, and a statement that finished meanwhile is delivered on return", async () => {
    const { c, token, sessionId } = await started();
    expect((await run(c, "begin")).type).toBe("result");
    expect((await run(c, "insert into notes values (1, 'not committed yet')")).type).toBe("result");
    const late = send(c, "select pg_sleep(1.5), 'finished-while-away' as marker");
    c.ws.terminate(); // the network goes, no close frame
    await new Promise((r) => setTimeout(r, 2_500));
    const back = resume(c, token);
    const answer = await back.waitFor((m) => m.id === late && m.type === "result");
    expect(answer.sets[0].rows[0][1]).toBe("finished-while-away");
    await back.waitFor((m) => m.type === "resumed");
    // Still the same transaction on the same gateway session: the row is there for it, not for anyone else.
    expect((await run(back, "select count(*) from notes")).sets[0].rows[0][0]).toBe("1");
    expect((await direct`select count(*)::int as n from notes`)[0].n).toBe(0);
    expect((await run(back, "commit")).type).toBe("result");
    expect((await direct`select count(*)::int as n from notes`)[0].n).toBe(1);
    expect(back.messages.some((m) => m.type === "session" || m.type === "ready")).toBe(false);
    expect(await sessionStatus(sessionId)).toBe("live");
    back.ws.close(1000);
  });

  it("a statement approved while the browser is away runs; its result waits for the browser", async () => {
    const { c, token } = await started();
    const id = send(c, "select 'approve-me' as marker");
    const held = await c.waitFor((m) => m.type === "held" && m.id === id);
    c.ws.terminate();
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${held.approvalId}/approve`, { reason: "ok" })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1_000));
    const back = resume(c, token);
    expect((await back.waitFor((m) => m.id === id && m.type === "result")).sets[0].rows[0][0]).toBe("approve-me");
    back.ws.close(1000);
  });

  it("the resume token is honoured only for the credential and the connection that opened the console", async () => {
    const { c, token } = await started();
    c.ws.terminate();
    const someoneElse = resume(c, token, { cookie: otherCookie, origin: gh.url });
    const sameUserByToken = resume(c, token, { authorization: `Bearer ${member}` });
    const otherConnection = resume(c, token, { cookie, origin: gh.url }, "other-db");
    const guessed = connect(`${base()}?resume=${"A".repeat(32)}&after=0`, { cookie, origin: gh.url });
    for (const refused of [someoneElse, sameUserByToken, otherConnection, guessed]) {
      await expect.poll(refused.closed, { timeout: 10_000 }).toBe(4404);
      expect(refused.messages).toEqual([]);
    }
    // None of those ended it: its opener still gets it back.
    const back = resume(c, token);
    await back.waitFor((m) => m.type === "resumed");
    expect((await run(back, "select 'mine' as who")).sets[0].rows[0][0]).toBe("mine");
    back.ws.close(1000);
  });

  it("not back within the grace period: the session ends and the token is refused", async () => {
    const { c, token, sessionId } = await started();
    c.ws.terminate();
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await sessionStatus(sessionId)).toBe("live");
    await expect.poll(() => sessionStatus(sessionId), { timeout: GRACE_MS + 15_000, interval: 500 }).toBe("ended");
    const late = resume(c, token);
    await expect.poll(late.closed, { timeout: 10_000 }).toBe(4404);
  });

  it("closed on purpose, the session ends at once, not after the grace period", async () => {
    const { c, token, sessionId } = await started();
    c.ws.close(1000);
    await expect.poll(() => sessionStatus(sessionId), { timeout: GRACE_MS - 2_000, interval: 250 }).toBe("ended");
    const again = resume(c, token);
    await expect.poll(again.closed, { timeout: 10_000 }).toBe(4404);
  });

  it("killed while the browser is away: on its return the browser reads why", async () => {
    const { c, token, sessionId } = await started();
    c.ws.terminate();
    expect((await apiCall(gh.url, admin, "POST", `/sessions/${sessionId}/kill`, { reason: "maintenance window" })).status).toBe(200);
    await expect.poll(() => sessionStatus(sessionId), { timeout: 10_000 }).toBe("killed");
    const back = resume(c, token);
    const closed = await back.waitFor((m) => m.type === "closed");
    expect(closed.reason).toContain("maintenance window");
    await expect.poll(back.closed, { timeout: 10_000 }).toBe(1000);
  });
});
