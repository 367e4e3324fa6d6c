import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { addApprover, addConnection, addMaskingRule, addUser, heldApproval, pgUpstream, putPolicies, TEST_PASSWORD, type Rec } from "../support/api-fixture";
import { consoleSignIn } from "../support/console-cookie";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * The console's SQL page, spoken as the browser speaks it (/ws/sql/:connection), against a real
 * Gatehouse and a real PostgreSQL 15. Its server side logs in through the PostgreSQL gateway, so
 * what holds for psql holds here: policy per statement, holds approved by a person, masking (and
 * the refusals under masking), recording with origin web-console, kills.
 */
const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

// What a member's statement returns is masked, a write's too (RETURNING, a SELECT in the same string).
@id("masked-for-members")
@mask("pii")
permit (principal is Gatehouse::User, action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource)
when { principal.role == "member" };

@id("reads-for-admins")
permit (principal is Gatehouse::User, action == Gatehouse::Action::"read", resource)
when { principal.role == "admin" };

@id("writes-held")
@hold("approvers")
permit (principal, action, resource)
when { ["write", "ddl", "admin", "unknown"].contains(context.request.kind) };

@id("no-truncate")
@reason("no truncating from the browser")
forbid (principal, action, resource)
when { context.client.origin == "web-console" && context.request.text like "*truncate*" };
`;

const MEMBER = "analyst@example.test";
const SECRET = "pbkdf2$Zq9xK7mWvT";

describe("browser SQL console", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let admin = "";
  let approver = "";
  let member = "";
  let cookie = "";

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    member = await addUser(gh, admin, MEMBER);
    approver = await addApprover(gh, admin);
    await addConnection(gh, admin, "app-db", { ...pgUpstream(pg15), tags: ["staging"] });
    await addMaskingRule(gh, admin, { name: "hashes", ruleSet: "pii", columns: ["accounts.password_hash"], style: "redact" });
    await putPolicies(gh, admin, POLICIES, "browser sql");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe(`create table accounts (id int primary key, login text, password_hash text);
      insert into accounts values (1, 'ada', '${SECRET}');
      create table notes (id serial primary key, body text);`);
    await direct.end();
    cookie = (await consoleSignIn(gh.url, MEMBER, TEST_PASSWORD)).header;
  }, 180_000);

  afterAll(async () => {
    await teardown(gh, pg15);
  });

  /** A console socket with every message it got; `run` sends a statement and waits for its answer. */
  function open(connection = "app-db", headers: Record<string, string> = { cookie, origin: gh.url }) {
    const ws = new WebSocket(`${gh.url.replace(/^http/, "ws")}/ws/sql/${connection}`, { headers });
    const messages: Rec[] = [];
    let closed: number | null = null;
    ws.on("message", (d) => messages.push(JSON.parse(d.toString())));
    ws.on("close", (code) => (closed = code));
    ws.on("error", () => {});
    const upgraded = new Promise<number>((resolve) => {
      ws.once("open", () => resolve(101));
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    });
    let next = 1;
    const answer = (id: number) => messages.find((m) => m.id === id && (m.type === "result" || m.type === "error"));
    const run = async (sql: string, timeout = 20_000) => {
      const id = next++;
      ws.send(JSON.stringify({ type: "run", id, sql }));
      await expect.poll(() => answer(id), { timeout }).toBeTruthy();
      return answer(id)!;
    };
    const ready = () => expect.poll(() => messages.find((m) => m.type === "ready" || m.type === "closed"), { timeout: 20_000 }).toBeTruthy();
    /** The session opens with the first statement; its id comes in a `session` message. */
    const sessionId = async () => {
      await expect.poll(() => messages.find((m) => m.type === "session"), { timeout: 20_000 }).toBeTruthy();
      return messages.find((m) => m.type === "session")!.sessionId as string;
    };
    return { ws, messages, run, ready, sessionId, upgraded, closed: () => closed, nextId: () => next++ };
  }

  it("runs statements through the gateway: masked for a member, transactions carry across statements", async () => {
    const c = open();
    expect(await c.upgraded).toBe(101);
    await c.ready();
    const read = await c.run("select login, password_hash from accounts");
    expect(await c.sessionId()).toMatch(/^[0-9a-f-]{36}$/);
    expect(read.type, JSON.stringify(read)).toBe("result");
    expect(read.sets[0].columns).toEqual(["login", "password_hash"]);
    expect(read.sets[0].rows[0][0]).toBe("ada");
    expect(read.sets[0].rows[0][1]).not.toContain("Zq9xK7");
    // Derived from the masked column: still masked (the gateway's lineage, not the page's).
    expect(JSON.stringify(await c.run("select reverse(password_hash) || '' as r from accounts"))).not.toContain("Tv");
    expect((await c.run("show application_name")).sets[0].rows[0][0]).toBe("browser sql console");
    // One connection: inside a transaction opened by an earlier message, now() stands still.
    expect((await c.run("begin")).type).toBe("result");
    const t1 = (await c.run("select now()::text as t")).sets[0].rows[0][0];
    await new Promise((r) => setTimeout(r, 50));
    expect((await c.run("select now()::text as t")).sets[0].rows[0][0]).toBe(t1);
    expect((await c.run("commit")).type).toBe("result");
    expect((await c.run("select now()::text as t")).sets[0].rows[0][0]).not.toBe(t1);
    c.ws.close(1000);
  });

  it("a held write waits for an approver, then runs; a denied statement leaves the console usable", async () => {
    const c = open();
    await c.ready();
    const id = c.nextId();
    c.ws.send(JSON.stringify({ type: "run", id, sql: "insert into notes (body) values ('from the browser')" }));
    await expect.poll(() => c.messages.find((m) => m.type === "held" && m.id === id), { timeout: 15_000 }).toBeTruthy();
    const held = c.messages.find((m) => m.type === "held")!;
    expect(held.url).toContain(`/approvals/${held.approvalId}`);
    const pending = await heldApproval(gh, approver, "insert into notes (body) values ('from the browser')");
    expect(pending.id).toBe(held.approvalId);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${held.approvalId}/approve`, { reason: "ok" })).status).toBe(200);
    await expect.poll(() => c.messages.find((m) => m.id === id && m.type === "result"), { timeout: 15_000 }).toBeTruthy();
    expect(c.messages.find((m) => m.id === id && m.type === "result")!.sets[0].command).toBe("INSERT");

    const refused = await c.run("truncate notes");
    expect(refused).toMatchObject({ type: "error", code: "42501" });
    expect(refused.message).toContain("no truncating from the browser");
    expect((await c.run("select count(*) from notes")).sets[0].rows[0][0]).toBe("1");
    c.ws.close(1000);
  });

  it("is recorded as a web-console session of the member, with its statements", async () => {
    const c = open();
    await c.ready();
    await c.run("select 'recorded-from-browser' as marker");
    const sessionId = await c.sessionId();
    c.ws.close(1000);
    await expect.poll(async () => (await apiCall(gh.url, admin, "GET", `/sessions/${sessionId}`)).body.session?.status, { timeout: 10_000 }).toBe("ended");
    const { session } = (await apiCall(gh.url, admin, "GET", `/sessions/${sessionId}`)).body;
    expect(session).toMatchObject({ userEmail: MEMBER, origin: "web-console", applicationName: "browser sql console", connectionName: "app-db" });
    expect(session.clientAddress).toMatch(/127\.0\.0\.1/);
    const events = (await apiCall(gh.url, admin, "GET", `/sessions/${sessionId}/events`)).body.events as Rec[];
    expect(events.some((e) => e.kind === "request" && String(e.payload.text).includes("recorded-from-browser"))).toBe(true);
  });

  it("cancels a running statement, and ends with the kill's reason when an admin kills the session", async () => {
    const c = open();
    await c.ready();
    await c.run("select 1");
    const sessionId = await c.sessionId();
    const id = c.nextId();
    c.ws.send(JSON.stringify({ type: "run", id, sql: "select pg_sleep(30)" }));
    // A cancel before the upstream runs the statement would be ignored: wait until it does.
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    try {
      await expect
        .poll(async () => (await direct`select count(*)::int as n from pg_stat_activity where state = 'active' and query like '%pg_sleep(30)%' and pid <> pg_backend_pid()`)[0].n, { timeout: 15_000 })
        .toBeGreaterThan(0);
    } finally {
      await direct.end({ timeout: 1 });
    }
    c.ws.send(JSON.stringify({ type: "cancel" }));
    await expect.poll(() => c.messages.find((m) => m.id === id && m.type === "error"), { timeout: 10_000 }).toMatchObject({ code: "57014" });
    expect((await c.run("select 1 as still_here")).sets[0].rows).toEqual([["1"]]);
    expect((await apiCall(gh.url, admin, "POST", `/sessions/${sessionId}/kill`, { reason: "closing the browser console" })).status).toBe(200);
    await expect.poll(() => c.messages.find((m) => m.type === "closed"), { timeout: 10_000 }).toBeTruthy();
    expect(c.messages.find((m) => m.type === "closed")!.reason).toContain("closing the browser console");
  });

  it("what psql is refused under masking is refused here too", async () => {
    // The same statement through psql and through the page: one path, one answer. The write is
    // held first, as every write here; approved, the gateway still refuses to copy the masked value.
    const copy = "begin; update accounts set login = password_hash; select login from accounts; rollback";
    const viaPsql = runPsql(gatewayConninfo(gh.ports.postgres, "app-db", MEMBER), member, ["-A", "-t", "-c", copy]);
    const first = await heldApproval(gh, approver, copy);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${first.id}/approve`, {})).status).toBe(200);
    const psqlOut = (await viaPsql).out;
    expect(psqlOut).toContain("not available on a masked connection");
    expect(psqlOut).not.toContain("Zq9xK7");

    const c = open();
    await c.ready();
    const id = c.nextId();
    c.ws.send(JSON.stringify({ type: "run", id, sql: copy }));
    await expect.poll(() => c.messages.find((m) => m.type === "held" && m.id === id), { timeout: 15_000 }).toBeTruthy();
    const approvalId = c.messages.find((m) => m.type === "held" && m.id === id)!.approvalId;
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${approvalId}/approve`, {})).status).toBe(200);
    await expect.poll(() => c.messages.find((m) => m.id === id && (m.type === "result" || m.type === "error")), { timeout: 15_000 }).toBeTruthy();
    const answer = c.messages.find((m) => m.id === id && (m.type === "result" || m.type === "error"))!;
    expect(answer).toMatchObject({ type: "error", code: "0A000" });
    expect(JSON.stringify(c.messages)).not.toContain("Zq9xK7");
    c.ws.close(1000);
  });

  it("checks who asks: no credential, a foreign Origin, an SSH or unknown connection are refused before the upgrade", async () => {
    expect(await open("app-db", {}).upgraded).toBe(401);
    expect(await open("app-db", { cookie, origin: "https://evil.example" }).upgraded).toBe(403);
    expect(await open("no-such-db").upgraded).toBe(403);
    await addConnection(gh, admin, "some-box", { type: "ssh", upstream: "ssh://127.0.0.1:22", username: "x", secret: "y" });
    expect(await open("some-box").upgraded).toBe(403);
    // A bearer token works without Origin, as for every socket; its owner is the one who runs.
    const viaToken = open("app-db", { authorization: `Bearer ${member}` });
    expect(await viaToken.upgraded).toBe(101);
    await viaToken.ready();
    expect((await viaToken.run("select current_user = current_user as ok")).type).toBe("result");
    viaToken.ws.close(1000);
    // The console's one-time login secrets exist only inside the process: a guessed one is refused like a bad token.
    const guessed = await runPsql(gatewayConninfo(gh.ports.postgres, "app-db", MEMBER), "gatehouse-console:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ["-A", "-t", "-c", "select 1"]);
    expect(guessed.out).toContain(`password authentication failed for user "${MEMBER}"`);
  });

  it("a policy refusing the connection closes the console with the reason", async () => {
    await putPolicies(gh, admin, `${POLICIES}\n@id("no-browser") @reason("use psql for app-db")\nforbid (principal, action == Gatehouse::Action::"connect", resource)\nwhen { context.client.origin == "web-console" };\n`, "no browser");
    try {
      const c = open();
      await c.ready();
      expect(await c.run("select 1")).toMatchObject({ type: "error", code: "42501" });
      await expect.poll(() => c.messages.find((m) => m.type === "closed"), { timeout: 15_000 }).toBeTruthy();
      expect(c.messages.find((m) => m.type === "closed")!.reason).toContain("use psql for app-db");
    } finally {
      await putPolicies(gh, admin, POLICIES, "browser sql");
    }
  });
});
