import { execFile } from "node:child_process";
import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_POLICIES } from "@/lib/gateway/policy/defaults";
import { build } from "@/lib/gateway/protocols/postgres/wire";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { freezePostgres } from "../support/pg-freeze";
import { rawPgSession } from "../support/pg-wire-session";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { addApprover, addUser, heldApproval, putPolicies, type Rec } from "../support/api-fixture";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * The PostgreSQL gateway with real clients (psql, pgbench, postgres-js) against a real
 * Gatehouse process and two real upstreams: the demo PGlite and a PostgreSQL 15 with SCRAM.
 * Assertions check what the client saw AND what was recorded.
 */

/** Replaces text that must be there: a changed default fails here, not as a held statement timing out. */
function edit(text: string, from: string, to: string): string {
  if (!text.includes(from)) throw new Error(`DEFAULT_POLICIES no longer contains ${from}`);
  return text.replace(from, to);
}

const POLICIES = edit(
  edit(DEFAULT_POLICIES, 'when { context.request.kind == "ddl" }', 'when { context.request.kind == "ddl" && !resource.tags.contains("bench") }'),
  'when { context.request.kind == "admin" }',
  'when { context.request.kind == "admin" && !resource.tags.contains("bench") }',
).concat(`
@id("bench-ddl-admin")
permit (principal, action in [Gatehouse::Action::"ddl", Gatehouse::Action::"admin"], resource)
when { resource.tags.contains("bench") };

@id("mask-demo-masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource)
when { ["demo-masked", "pg-masked"].contains(resource.name) };

@id("no-secrets")
@reason("the secrets table is off limits")
forbid (principal, action, resource)
when { context.request.tables.contains("secrets") };

@id("payroll-dba-only")
@reason("payroll is for the dba group")
forbid (principal, action, resource)
when { context.request.tables.contains("payroll") }
unless { principal in Gatehouse::Group::"dba" };
`);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe("PostgreSQL gateway", () => {
  let gh: GatehouseProcess;
  let pg: Postgres15;
  const tokens = { admin: "", member: "", approver: "" };
  const MEMBER = "dev@example.test";
  let raw: { emails: string[]; ssns: string[]; cards: string[] };

  const dsn = (db: string, user = MEMBER, ssl = "disable") => `host=127.0.0.1 port=${gh.ports.postgres} dbname=${db} user=${user} sslmode=${ssl}`;
  const psql = (db: string, sql: string, opts: { token?: string; user?: string; ssl?: string; onStderr?: (s: string) => void } = {}) =>
    runPsql(dsn(db, opts.user, opts.ssl), opts.token ?? tokens.member, ["-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-c", sql], { onStderr: opts.onStderr });
  const client = (db: string, token = tokens.member, extra: Partial<postgres.Options<{}>> = {}) =>
    postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: db, username: MEMBER, password: token, ssl: false, max: 1, onnotice: () => {}, ...extra });

  const pendingApproval = (match: (a: Rec) => boolean) => heldApproval(gh, tokens.approver, match);
  async function sessionsOf(filter: (s: Record<string, any>) => boolean) {
    const res = await apiCall(gh.url, tokens.admin, "GET", "/sessions?protocol=postgres");
    return (res.body.sessions as Record<string, any>[]).filter(filter);
  }
  async function eventsOf(id: string): Promise<Record<string, any>[]> {
    return (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${id}/events`)).body.events;
  }

  beforeAll(async () => {
    [gh, pg] = await Promise.all([startGatehouse(), startPostgres15()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, MEMBER);
    tokens.approver = await addApprover(gh, tokens.admin);
    const upstream = `postgres://127.0.0.1:${pg.port}/postgres`;
    for (const [name, tags] of [["prod-pg", ["prod"]], ["bench-pg", ["bench"]], ["pg-masked", ["staging"]]] as const) {
      const res = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name, type: "postgres", upstream, username: "postgres", secret: "gatehouse-test", tags });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const demo = await apiCall(gh.url, tokens.admin, "POST", "/connections", { name: "demo-masked", type: "postgres", upstream: `postgres://127.0.0.1:${gh.ports.demo}/postgres`, username: "postgres", secret: "demo", tags: ["demo"] });
    expect(demo.status, JSON.stringify(demo.body)).toBe(200);
    await putPolicies(gh, tokens.admin, POLICIES, "postgres gateway test");
    await new Promise((r) => setTimeout(r, 500));

    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table items (id int primary key, note text); create table secrets (k text)");
    await direct.end();
    const demoDirect = postgres({ host: "127.0.0.1", port: gh.ports.demo, database: "postgres", username: "postgres", password: "demo", max: 1 });
    const rows = await demoDirect<{ email: string; ssn: string; card_number: string }[]>`select email, ssn, card_number from customers`;
    await demoDirect.end();
    raw = { emails: rows.map((r) => r.email), ssns: rows.map((r) => r.ssn), cards: rows.map((r) => r.card_number) };
  });
  afterAll(async () => {
    await teardown(gh, pg);
  });

  it("a live session follows its user's group membership: removed from a group, its next statement is decided without it", async () => {
    const c = client("prod-pg", tokens.member, { connection: { application_name: "groups-follow" } });
    // payroll does not exist upstream: allowed shows as 42P01 from PostgreSQL, denied as 42501 from Gatehouse
    const code = () => c`select * from payroll`.then(() => "ok", (err: { code?: string }) => err.code);
    const setGroups = async (groups: string[]) => expect((await apiCall(gh.url, tokens.admin, "PATCH", `/users/${MEMBER}`, { groups })).status).toBe(200);
    const becomes = async (want: string) => {
      let got = await code();
      for (const deadline = Date.now() + 5_000; got !== want && Date.now() < deadline; got = await code()) await new Promise((r) => setTimeout(r, 50));
      return got;
    };
    try {
      expect(await code()).toBe("42501");
      await setGroups(["dba"]);
      expect(await becomes("42P01")).toBe("42P01");
      await setGroups([]);
      expect(await becomes("42501")).toBe("42501");
      const [session] = await sessionsOf((s) => s.applicationName === "groups-follow" && s.status === "live");
      // the recorder writes in batches: the second change may be decided on before it is stored
      const changes = async () => (await eventsOf(session.id)).filter((e) => e.kind === "principal").map((e) => e.payload);
      await expect.poll(changes).toEqual([
        { role: "member", groups: ["dba"], before: { role: "member", groups: [] } },
        { role: "member", groups: [], before: { role: "member", groups: ["dba"] } },
      ]);
    } finally {
      await c.end();
    }
  });

  it("psql SELECT on demo-postgres returns rows, without and with TLS", async () => {
    const plain = await psql("demo-postgres", "select id, name from customers order by id limit 3", { token: tokens.admin, user: gh.adminEmail });
    expect(plain.stderr).toBe("");
    expect(plain.stdout).toContain("Ada Lovelace");
    expect(plain.stdout).toContain("(3 rows)");
    const tls = await psql("demo-postgres", "select count(*) from customers", { token: tokens.admin, user: gh.adminEmail, ssl: "require" });
    expect(tls.stdout).toMatch(/48/);
  });

  it("reaches a PostgreSQL 15 upstream with SCRAM credentials", async () => {
    const r = await psql("prod-pg", "select current_user, version()");
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("PostgreSQL 15");
  });

  it("holds a write on prod: the client sees the notice, an approver approves, the statement completes", async () => {
    let sawNotice = false;
    const running = psql("prod-pg", "insert into items values (1, 'approved')", { onStderr: (s) => (sawNotice ||= /held for approval #\d+/.test(s)) });
    const a = await pendingApproval((x) => String(x.text ?? x.statement ?? JSON.stringify(x)).includes("insert into items values (1"));
    // psql prints the notice in its own time: it may reach us after the approval is listed
    await expect.poll(() => sawNotice, { timeout: 10_000 }).toBe(true);
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/approve`, {})).status).toBe(200);
    const r = await running;
    expect(r.stdout).toContain("INSERT 0 1");
    expect(r.code).toBe(0);
  });

  it("a denied hold gives 42501 and the session stays usable", async () => {
    const sql = client("prod-pg");
    try {
      const held = sql`insert into items values (2, 'nope')`.catch((e) => e);
      const a = await pendingApproval((x) => JSON.stringify(x).includes("insert into items values"));
      expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/deny`, { reason: "not now" })).status).toBe(200);
      const err = await held;
      expect(err.code).toBe("42501");
      expect(err.message).toMatch(/gatehouse: denied by approver/);
      expect(await sql`select count(*)::int as n from items`).toEqual([{ n: 1 }]);
    } finally {
      await sql.end();
    }
  });

  it("a forbid policy's @reason reaches the client", async () => {
    const r = await psql("prod-pg", "select * from secrets");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("42501");
    expect(r.stderr).toContain("the secrets table is off limits");
  });

  it("refuses changing client_encoding / standard_conforming_strings (the classifier's reading must match the server's)", async () => {
    const r = await psql("bench-pg", "set client_encoding = 'SJIS'");
    expect(r.stderr).toContain("0A000");
    const ok = await psql("bench-pg", "select 1 as still_fine");
    expect(ok.stdout).toContain("still_fine");
  });

  it("decides a multi-statement query as a whole: nothing of `select 1; delete ...` runs while held", async () => {
    let notice = false;
    const running = psql("prod-pg", "select 4242; delete from items", { onStderr: (s) => (notice ||= s.includes("held for approval")) });
    const a = await pendingApproval((x) => JSON.stringify(x).includes("delete from items"));
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${a.id}/deny`, { reason: "no" })).status).toBe(200);
    const r = await running;
    expect(notice).toBe(true);
    expect(r.stdout).not.toContain("4242");
    expect(r.stderr).toContain("42501");
  });

  it("masks PII through transformations, aggregates, row_to_json and named prepared statements", async () => {
    const queries = [
      "select email, ssn, card_number from customers",
      "select encode(ssn::bytea, 'hex') as h from customers",
      "select upper(email) as e, reverse(ssn) as r from customers",
      "select row_to_json(c) from customers c",
      "select string_agg(email, ',') from customers",
      "select ssn || '' as s, replace(card_number, '1', 'x') as c from customers",
    ];
    const hex = raw.ssns.map((s) => Buffer.from(s).toString("hex"));
    for (const q of queries) {
      const r = await psql("demo-masked", q);
      expect(r.stderr, q).toBe("");
      const out = r.stdout;
      expect(out.length, q).toBeGreaterThan(50);
      for (const v of [...raw.emails, ...raw.ssns, ...raw.cards, ...hex, ...raw.emails.map((e) => e.toUpperCase()), ...raw.ssns.map((s) => [...s].reverse().join(""))]) {
        expect(out.includes(v), `${q} leaked ${v}`).toBe(false);
      }
    }
    const sql = client("demo-masked", tokens.member, { prepare: true });
    try {
      for (let i = 0; i < 3; i++) {
        const rows = await sql<{ email: string; ssn: string; h: string }[]>`select email, ssn, encode(ssn::bytea, 'hex') as h from customers where id = ${i + 1}`;
        expect(rows).toHaveLength(1);
        expect(raw.emails).not.toContain(rows[0].email);
        expect(raw.ssns).not.toContain(rows[0].ssn);
        expect(hex).not.toContain(rows[0].h);
      }
    } finally {
      await sql.end();
    }
  });

  it("records statements with verdicts and results (rows, masked counts, sample)", async () => {
    await psql("demo-masked", "select id, email from customers order by id limit 5");
    // The session that ran it, once it is over: a session's status leaves "live" after all its events are stored.
    const ranIt = async () => {
      for (const s of await sessionsOf((s) => s.connectionName === "demo-masked" && s.status !== "live")) {
        const events = await eventsOf(s.id);
        if (events.some((e) => e.kind === "request" && e.payload.text?.includes("limit 5"))) return { session: s, events };
      }
      return null;
    };
    await expect.poll(ranIt, { timeout: 10_000 }).toBeTruthy();
    const { session, events } = (await ranIt())!;
    const req = events.find((e) => e.kind === "request" && e.payload.text?.includes("limit 5"));
    expect(req).toBeTruthy();
    expect(req!.payload.verdict).toBe("mask");
    expect(events.some((e) => e.kind === "verdict")).toBe(false); // on the request: two rows per statement, not three
    const result = events.find((e) => e.kind === "result" && e.payload.requestSeq === req!.seq)!;
    expect(result.payload).toMatchObject({ rows: 5, tag: "SELECT 5" });
    expect(result.payload.maskedCells).toBeGreaterThanOrEqual(5);
    expect(result.payload.sample.rows).toHaveLength(5);
    expect(JSON.stringify(result.payload.sample)).not.toContain(raw.emails[0]);
    expect(session.applicationName).toBe("psql");
    // Literals in recorded statements are masked too: the recording must not become the leak.
    await psql("demo-masked", `select id from customers where ssn = '${raw.ssns[1]}'`);
    const recorded = async () => {
      const sessions = await sessionsOf((s) => s.connectionName === "demo-masked");
      const all = (await Promise.all(sessions.map((s) => eventsOf(s.id)))).flat();
      return { done: sessions.every((s) => s.status !== "live") && all.some((e) => e.kind === "request" && e.payload.text?.includes("where ssn")), all };
    };
    await expect.poll(async () => (await recorded()).done, { timeout: 10_000 }).toBe(true);
    const { all } = await recorded();
    expect(JSON.stringify(all)).not.toContain(raw.ssns[1]);
  });

  it("masks COPY TO STDOUT rows and error messages", async () => {
    const copy = await psql("demo-masked", "copy (select email, ssn, card_number from customers) to stdout");
    expect(copy.stderr).toBe("");
    expect(copy.stdout.split("\n").length).toBeGreaterThan(40);
    for (const v of [...raw.emails, ...raw.ssns, ...raw.cards]) expect(copy.stdout.includes(v), `COPY leaked ${v}`).toBe(false);
    const copyTable = await psql("demo-masked", "copy customers to stdout");
    for (const v of [...raw.emails, ...raw.ssns]) expect(copyTable.stdout.includes(v), `COPY table leaked ${v}`).toBe(false);
    const err = await psql("demo-masked", `select '${raw.emails[0]}'::int`);
    // psql echoes the client's own statement as "LINE 1: ..."; the server's message must be masked
    const first = err.stderr.split("\n")[0];
    expect(first).toContain("22P02");
    expect(first).not.toContain(raw.emails[0]);
  });

  it("masks NOTIFY payloads on a masked connection", async () => {
    const sql = client("pg-masked");
    const got: string[] = [];
    try {
      await sql.listen("gh_chan", (payload) => got.push(payload));
      const direct = postgres(pg.url, { max: 1 });
      await direct`select pg_notify('gh_chan', 'contact ada.lovelace@example.com now')`;
      await direct.end();
      for (let i = 0; i < 50 && got.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
      expect(got).toHaveLength(1);
      // another session's payload has no lineage to mask by: withheld whole (postgres-masking-hunt)
      expect(got[0]).toBe("[REDACTED]");
      expect(got[0]).not.toContain("ada.lovelace@example.com");
    } finally {
      await sql.end();
    }
  });

  it("relays COPY FROM STDIN after the decision", async () => {
    const direct = postgres(pg.url, { max: 1 });
    await direct`create table if not exists copy_in (a int, b text)`;
    const r = await runPsql(dsn("bench-pg"), tokens.member, ["-c", "copy copy_in from stdin"], { stdin: "1\tone\n2\ttwo\n\\.\n" });
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("COPY 2");
    expect(await direct`select count(*)::int as n from copy_in`).toEqual([{ n: 2 }]);
    await direct.end();
  });

  /**
   * A raw wire-protocol client, logged in as the member: for what libpq-style drivers cannot
   * express (named statements reused across SQL PREPARE, Flush-split pipelines, binary formats).
   */
  const rawSession = (database: string) => rawPgSession(gh.ports.postgres, { user: MEMBER, database, password: tokens.member });

  it("binary result columns on a masked connection: masked as text, sent in binary, never raw", async () => {
    const conn = await rawSession("demo-masked");
    // No Describe: the gateway learns the column types itself (its own Describe P, not forwarded).
    conn.write(build.parse({ text: "select id, ssn, email from customers order by id limit 2" }), build.bind({ resultFormats: [1] }), build.execute(), build.sync());
    const got = await conn.ready();
    expect(got.map((m) => m.type)).toEqual(["ParseComplete", "BindComplete", "DataRow", "DataRow", "CommandComplete", "ReadyForQuery"]);
    const [first] = got.filter((m) => m.type === "DataRow");
    expect(first.values[0].toString("hex")).toBe("00000001"); // int4 1 in binary
    expect(first.values[1].toString()).toBe("[REDACTED]");
    expect(raw.ssns).not.toContain(first.values[1].toString());
    expect(raw.emails).not.toContain(first.values[2].toString());
    conn.write(build.parse({ text: "select 7 as n" }), build.bind({}), build.execute(), build.sync());
    expect((await conn.ready()).map((m) => m.type)).toEqual(["ParseComplete", "BindComplete", "DataRow", "CommandComplete", "ReadyForQuery"]);
    conn.end();
  });

  it("decides a Bind by what the name means now: SQL DEALLOCATE/PREPARE cannot launder a held write", async () => {
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct`create table if not exists gh_victim (id int)`;
    await direct`insert into gh_victim values (1)`;
    await direct.end();
    const raw = await rawSession("prod-pg");
    raw.write(build.parse({ name: "s1", text: "select 1" }), build.sync());
    await raw.ready();
    raw.write(build.query("DEALLOCATE s1"));
    await raw.ready();
    // PREPARE of a write on prod is held; approve it once.
    raw.write(build.query("PREPARE s1 AS DELETE FROM gh_victim"));
    const first = await pendingApproval((a) => String(a.request?.text ?? "").includes("PREPARE s1"));
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${first.id}/approve`, {})).status).toBe(200);
    await raw.ready();
    // Executing s1 is a DELETE now, not "select 1": it needs its own approval.
    raw.write(build.bind({ statement: "s1" }), build.execute(), build.sync());
    const second = await pendingApproval((a) => a.id !== first.id && String(a.request?.text ?? "").includes("DELETE FROM gh_victim"));
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${second.id}/deny`, { reason: "no" })).status).toBe(200);
    const out = await raw.ready();
    expect(out.some((m) => m.type === "ErrorResponse" && m.fields.code === "42501")).toBe(true);
    raw.end();
    const check = postgres(pg.url, { max: 1, onnotice: () => {} });
    expect((await check`select count(*)::int as n from gh_victim`)[0].n).toBe(1);
    await check.end();
  });

  it("a denied part after earlier pipelined parts ran ends the connection, so they roll back", async () => {
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    await direct`create table if not exists gh_pipe (id int)`;
    const raw = await rawSession("bench-pg");
    raw.write(build.parse({ text: "insert into gh_pipe values (1)" }), build.bind({}), build.execute(), build.flush());
    await raw.until(() => raw.msgs.some((m) => m.type === "CommandComplete"));
    raw.write(build.parse({ text: "select * from secrets" }), build.bind({}), build.execute(), build.sync());
    await raw.until(raw.ended);
    const fatal = raw.msgs.find((m) => m.type === "ErrorResponse");
    expect(fatal.fields).toMatchObject({ severity: "FATAL", code: "42501" });
    await new Promise((r) => setTimeout(r, 300));
    expect((await direct`select count(*)::int as n from gh_pipe`)[0].n).toBe(0);
    await direct.end();
  });

  it("refuses COPY through the extended protocol on a masked connection", async () => {
    const raw = await rawSession("demo-masked");
    raw.write(build.parse({ text: "copy (select name, email from customers) to stdout" }), build.bind({}), build.execute(), build.sync());
    const out = await raw.ready();
    expect(out.map((m) => m.type)).toEqual(["ErrorResponse", "ReadyForQuery"]);
    expect(out[0].fields.code).toBe("0A000");
    raw.end();
  });

  it("refuses a wrong token and a wrong user with 28P01", async () => {
    const bad = client("prod-pg", "not-a-token");
    await expect(bad`select 1`).rejects.toMatchObject({ code: "28P01" });
    await bad.end();
    const wrongUser = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "prod-pg", username: "approver@example.test", password: tokens.member, max: 1 });
    await expect(wrongUser`select 1`).rejects.toMatchObject({ code: "28P01" });
    await wrongUser.end();
    const unknown = client("no-such-connection");
    await expect(unknown`select 1`).rejects.toMatchObject({ code: "3D000" });
    await unknown.end();
  });

  it("cancels a running statement through the gateway's own cancel key", async () => {
    const sql = client("prod-pg");
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const q = sql`select pg_sleep(10)`;
      const err = q.catch((e) => e);
      // Once it runs upstream: postgres.js cancelled while it still connects (its type lookup, slow
      // on a loaded CI machine) leaves the connection hung, directly against PostgreSQL as well.
      const running = async () => (await direct`select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(10)' and state = 'active'`)[0]!.n > 0;
      for (let i = 0; i < 200 && !(await running()); i++) await new Promise((r) => setTimeout(r, 25));
      q.cancel();
      expect((await err).code).toBe("57014");
      expect(await sql`select 1 as x`).toEqual([{ x: 1 }]);
    } finally {
      await sql.end();
      await direct.end();
    }
  });

  it("revoking the token ends a live session within a second (57P01)", async () => {
    const issued = await apiCall(gh.url, tokens.member, "POST", "/tokens", { name: "short", ttlSeconds: 3600 });
    expect(issued.status).toBe(200);
    let ended = 0;
    const running = psql("prod-pg", "select pg_sleep(20)", { token: issued.body.token }).then((r) => ((ended = Date.now()), r));
    // Revoked once the statement runs upstream (a revocation during the login is refused there instead).
    const direct = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const sleeping = async () => (await direct`select count(*)::int as n from pg_stat_activity where query = 'select pg_sleep(20)' and state = 'active'`)[0]!.n;
      await expect.poll(sleeping, { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      await direct.end();
    }
    const at = Date.now();
    expect((await apiCall(gh.url, tokens.member, "DELETE", `/tokens/${issued.body.id}`)).status).toBe(200);
    const r = await running;
    expect(r.stderr).toContain("57P01");
    expect(r.stderr).toContain("revoked");
    // "within a second" is the aim; the bound is loose for a loaded CI machine, far below pg_sleep(20)
    expect(ended - at).toBeLessThan(5000);
  });

  it("POST /sessions/:id/kill ends a session", async () => {
    const running = psql("prod-pg", "select pg_sleep(20)");
    let live: Record<string, any>[] = [];
    for (let i = 0; i < 50 && live.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = await sessionsOf((s) => s.connectionName === "prod-pg" && s.status === "live");
    }
    expect(live.length).toBeGreaterThan(0);
    // killed once the statement runs (a kill during the login is the next test's)
    const statementRecorded = async () => (await Promise.all(live.map((s) => eventsOf(s.id)))).some((events) => events.some((e) => e.kind === "request" && e.payload.text === "select pg_sleep(20)"));
    for (let i = 0; i < 100 && !(await statementRecorded()); i++) await new Promise((r) => setTimeout(r, 100));
    for (const s of live) await apiCall(gh.url, tokens.admin, "POST", `/sessions/${s.id}/kill`, {});
    const r = await running;
    expect(r.stderr).toContain("57P01");
  });

  it("a session killed while its upstream still connects is refused then, not when the upstream answers", async () => {
    const known = new Set((await sessionsOf((s) => s.connectionName === "prod-pg")).map((s) => s.id));
    const thaw = freezePostgres(pg.port); // accepts the connection, answers nothing
    try {
      const running = psql("prod-pg", "select 1");
      let live: Record<string, any>[] = [];
      for (let i = 0; i < 100 && live.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 100));
        live = await sessionsOf((s) => s.connectionName === "prod-pg" && s.status === "live" && !known.has(s.id));
      }
      expect(live).toHaveLength(1);
      expect((await apiCall(gh.url, tokens.admin, "POST", `/sessions/${live[0].id}/kill`, {})).status).toBe(200);
      const r = await running;
      // a refusal during the login: psql prints no SQLSTATE there (it is 57P01)
      expect(r.stderr).toMatch(/FATAL:\s+terminating connection: session ended by an administrator/);
    } finally {
      thaw();
    }
  });

  it("runs pgbench -i and short pgbench runs (simple, extended, prepared)", async () => {
    const env = { ...process.env, PGPASSWORD: tokens.member, PGHOST: "127.0.0.1", PGPORT: String(gh.ports.postgres), PGUSER: MEMBER, PGDATABASE: "bench-pg", PGSSLMODE: "disable" };
    const run = (args: string[]) =>
      new Promise<Run>((resolve) => execFile("pgbench", args, { env, timeout: 120_000 }, (e, stdout, stderr) => resolve({ code: e ? ((e as { code?: number }).code ?? 1) : 0, stdout, stderr })));
    const init = await run(["-i", "-s", "1", "-q"]);
    expect(init.code, init.stderr).toBe(0);
    for (const mode of ["simple", "extended", "prepared"]) {
      const r = await run(["-T", "3", "-c", "4", "-M", mode]);
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
      const tps = Number(/tps = ([\d.]+)/.exec(r.stdout)?.[1] ?? 0);
      console.info(`[pgbench ${mode}] ${tps} tps`);
      expect(tps).toBeGreaterThan(10);
    }
  }, 120_000);

  it("survives garbage, huge and zero lengths and a never-finishing startup while psql keeps working", async () => {
    const send = (bytes: Buffer, keepOpen = false) =>
      new Promise<string>((resolve) => {
        const s = net.connect(gh.ports.postgres, "127.0.0.1");
        let got = "";
        s.on("data", (d) => (got += d.toString("latin1")));
        s.on("error", () => resolve(got));
        s.on("close", () => resolve(got));
        s.on("connect", () => {
          s.write(bytes);
          if (keepOpen) setTimeout(() => (s.destroy(), resolve(got)), 3000);
        });
      });
    const huge = Buffer.alloc(8);
    huge.writeInt32BE(0x7fffffff, 0);
    huge.writeInt32BE(196608, 4);
    const results = await Promise.all([
      send(Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")),
      send(huge),
      send(Buffer.alloc(8)),
      send(Buffer.from([0, 0, 0, 20, 0, 3, 0, 0, 0x75]), true), // half a startup packet, then silence
      psql("demo-postgres", "select 'still serving' as s", { token: tokens.admin, user: gh.adminEmail }).then((r) => r.stdout),
    ]);
    expect(results[0]).toContain("08P01");
    expect(results[1]).toContain("invalid length of startup packet");
    expect(results[2]).toContain("08P01");
    expect(results[4]).toContain("still serving");
    const after = await psql("demo-postgres", "select 1 as ok", { token: tokens.admin, user: gh.adminEmail });
    expect(after.stdout).toContain("ok");
  });
});
