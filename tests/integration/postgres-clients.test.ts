import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { addApprover, addConnection, addUser, pgUpstream, putPolicies } from "../support/api-fixture";
import { gatewayConninfo, type PsqlRun, runPsql } from "../support/psql";

/**
 * Real client libraries and psql's meta-commands through the PostgreSQL gateway, against a real
 * PostgreSQL 15: node-postgres named (prepared) statements, psql `\d` from a file and from stdin,
 * binary result formats on a masked connection, and harmless session settings that run without
 * approval while role changes stay held. Assertions check what the client got AND what was recorded.
 */

/** People read and write; ddl, admin and unknown statements wait for an approver; one connection is masked. */
const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read-write")
permit (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource);

@id("changes-approval")
@hold("approvers")
permit (principal, action, resource)
when { ["ddl", "admin", "unknown"].contains(context.request.kind) };

@id("mask-pg15-masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "pg15-masked" };
`;

const MEMBER = "dev@example.test";
const CUSTOMERS = [
  { id: 1, name: "Ada Lovelace", email: "ada.lovelace@example.com", ssn: "123-45-6789", card: "4111111111111111", balance: "1234.50", active: true, born: "1815-12-10" },
  { id: 2, name: "Alan Turing", email: "alan.turing@example.com", ssn: "234-56-7890", card: "5500005555555559", balance: "-17.25", active: false, born: "1912-06-23" },
];

describe("PostgreSQL gateway with real client libraries", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  const tokens = { admin: "", member: "", approver: "" };

  const pgClient = (database: string, extra: pg.ClientConfig = {}) =>
    new pg.Client({ host: "127.0.0.1", port: gh.ports.postgres, database, user: MEMBER, password: tokens.member, ssl: false, ...extra });

  const psql = (database: string, args: string[], stdin?: string) => runPsql(gatewayConninfo(gh.ports.postgres, database, MEMBER), tokens.member, ["-v", "ON_ERROR_STOP=1", ...args], { stdin });

  /** Each matching session's events (seq numbers are per session). */
  async function eventsBySession(connection: string, appName?: string): Promise<Record<string, any>[][]> {
    // Callers have ended their clients: a session's status leaves "live" once all its events are stored.
    const matching = async () =>
      ((await apiCall(gh.url, tokens.admin, "GET", "/sessions?protocol=postgres")).body.sessions as Record<string, any>[]).filter((s) => s.connectionName === connection && (!appName || s.applicationName === appName));
    await expect.poll(async () => (await matching()).map((s) => s.status), { timeout: 10_000 }).toSatisfy((statuses: string[]) => statuses.length > 0 && !statuses.includes("live"));
    const list = await matching();
    return Promise.all(list.map(async (s) => (await apiCall(gh.url, tokens.admin, "GET", `/sessions/${s.id}/events`)).body.events as Record<string, any>[]));
  }
  async function sessionEvents(connection: string, appName: string): Promise<Record<string, any>[]> {
    const sessions = await eventsBySession(connection, appName);
    expect(sessions).toHaveLength(1);
    return sessions[0];
  }

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    tokens.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tokens.member = await addUser(gh, tokens.admin, MEMBER);
    tokens.approver = await addApprover(gh, tokens.admin);
    for (const name of ["pg15", "pg15-masked"]) {
      await addConnection(gh, tokens.admin, name, { ...pgUpstream(pg15), tags: ["staging"] });
    }
    await putPolicies(gh, tokens.admin, POLICIES, "client libraries test");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe(`
      create table customers (id int primary key, name text not null, email text, ssn text, card_number text,
        balance numeric(12,2), active boolean, born date, seen timestamptz default '2024-05-01 12:00:00+00', uid uuid default '6ba7b810-9dad-11d1-80b4-00c04fd430c8');
      create index customers_email_idx on customers (email);
      create table orders (id serial primary key, customer_id int references customers(id), total numeric);`);
    for (const c of CUSTOMERS) await direct`insert into customers (id, name, email, ssn, card_number, balance, active, born) values (${c.id}, ${c.name}, ${c.email}, ${c.ssn}, ${c.card}, ${c.balance}, ${c.active}, ${c.born})`;
    await direct.end();
  });
  afterAll(async () => {
    await teardown(gh, pg15);
  });

  it("node-postgres: named prepared statements are parsed once and re-executed with new parameters", async () => {
    const client = pgClient("pg15", { application_name: "np-prepared" });
    await client.connect();
    try {
      for (const c of CUSTOMERS) {
        const r = await client.query({ name: "customer-by-id", text: "select id, name, balance, active from customers where id = $1", values: [c.id] });
        expect(r.rows).toEqual([{ id: c.id, name: c.name, balance: c.balance, active: c.active }]);
      }
      const ins = await client.query({ name: "add-order", text: "insert into orders (customer_id, total) values ($1, $2) returning id", values: [1, "9.99"] });
      expect(ins.rowCount).toBe(1);
      await client.query({ name: "add-order", text: "insert into orders (customer_id, total) values ($1, $2) returning id", values: [2, "19.99"] });
      const sum = await client.query("select count(*)::int as n, sum(total)::text as s from orders");
      expect(sum.rows).toEqual([{ n: 2, s: "29.98" }]);
      // A statement error inside the extended protocol leaves the connection usable.
      await expect(client.query({ name: "bad", text: "select 1/0 where $1::int = 1", values: [1] })).rejects.toMatchObject({ code: "22012" });
      expect((await client.query({ name: "customer-by-id", text: "select id, name, balance, active from customers where id = $1", values: [2] })).rows[0].name).toBe("Alan Turing");
    } finally {
      await client.end();
    }
    const events = await sessionEvents("pg15", "np-prepared");
    const byId = events.filter((e) => e.kind === "request" && e.payload.text === "select id, name, balance, active from customers where id = $1");
    expect(byId.map((e) => e.payload.params)).toEqual([["1"], ["2"], ["2"]]);
    for (const req of byId) {
      expect(req.payload.verdict).toBe("allow");
      expect(events.find((e) => e.kind === "result" && e.payload.requestSeq === req.seq)?.payload).toMatchObject({ rows: 1, tag: "SELECT 1" });
    }
    const orders = events.filter((e) => e.kind === "request" && e.payload.text?.startsWith("insert into orders"));
    expect(orders.map((e) => [e.payload.kind, e.payload.params])).toEqual([["write", ["1", "9.99"]], ["write", ["2", "19.99"]]]);
    const failed = events.find((e) => e.kind === "result" && e.payload.error?.code === "22012");
    expect(failed).toBeTruthy();
  });

  it("node-postgres: a pool of clients runs named statements concurrently", async () => {
    const pool = new pg.Pool({ host: "127.0.0.1", port: gh.ports.postgres, database: "pg15", user: MEMBER, password: tokens.member, ssl: false, max: 4 });
    try {
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => pool.query({ name: "pool-q", text: "select $1::int * 2 as doubled, name from customers where id = $2", values: [i, (i % 2) + 1] })),
      );
      results.forEach((r, i) => expect(r.rows).toEqual([{ doubled: i * 2, name: CUSTOMERS[i % 2].name }]));
    } finally {
      await pool.end();
    }
  });

  it("binary results on a masked connection: node-postgres binary:true gets the real values, masked columns stay masked", async () => {
    // Types pg has no binary parser for come back as hex, to compare byte for byte.
    const types = { getTypeParser: (oid: number, format?: string) => (format === "binary" && [1082, 2950, 1043].includes(oid) ? (b: Buffer) => Buffer.from(b).toString("hex") : pg.types.getTypeParser(oid, format as "text")) };
    const sql = "select id, name, email, ssn, card_number, balance, active, born, seen, uid, array[id, id * 10] as ids, upper(email) as shout, null::int as nothing from customers where id >= $1 order by id";
    const direct = new pg.Client({ connectionString: pg15.url, binary: true, types } as pg.ClientConfig);
    const gated = pgClient("pg15-masked", { binary: true, types, application_name: "np-binary" } as pg.ClientConfig);
    await Promise.all([direct.connect(), gated.connect()]);
    try {
      const want = await direct.query({ text: sql, values: [1] });
      const got = await gated.query({ text: sql, values: [1] });
      expect(got.fields.map((f) => f.format)).toEqual(want.fields.map(() => "binary"));
      expect(got.rows).toHaveLength(2);
      for (const [i, row] of got.rows.entries()) {
        for (const col of ["id", "name", "balance", "active", "born", "seen", "uid", "ids", "nothing"]) expect(row[col], col).toEqual(want.rows[i][col]);
        expect(row.ssn).toBe("[REDACTED]");
        expect(row.card_number).toBe("[REDACTED]");
        expect(row.email).not.toBe(CUSTOMERS[i].email);
        expect(row.email).toMatch(/^h_[0-9a-f]{12}$/);
        expect(row.shout).not.toContain(CUSTOMERS[i].email.toUpperCase());
      }
      // The same named statement again: the description comes from the statement, values from a fresh Bind.
      for (let k = 0; k < 2; k++) {
        const again = await gated.query({ name: "bin-named", text: "select id, ssn, balance from customers where id = $1", values: [2] });
        expect(again.rows).toEqual([{ id: 2, ssn: "[REDACTED]", balance: want.rows[1].balance }]);
      }
    } finally {
      await Promise.all([direct.end(), gated.end()]);
    }
    const events = await sessionEvents("pg15-masked", "np-binary");
    const req = events.find((e) => e.kind === "request" && e.payload.text === sql)!;
    const result = events.find((e) => e.kind === "result" && e.payload.requestSeq === req.seq)!;
    expect(result.payload.rows).toBe(2);
    expect(result.payload.maskedCells).toBeGreaterThanOrEqual(6);
    expect(JSON.stringify(result.payload.sample)).not.toContain(CUSTOMERS[0].ssn);
  });

  it("a large masked result is masked on two cores: every row arrives in order, masked, and every masked cell is counted", async () => {
    const sql = "select g, c.id, c.email, c.ssn, 'call ' || c.email as note from customers c, generate_series(1, 10000) g order by g, c.id";
    const client = pgClient("pg15-masked", { application_name: "np-bulk" });
    await client.connect();
    let rows: Record<string, any>[];
    try {
      rows = (await client.query(sql)).rows;
      // Runs are masked while the next ones arrive: what follows them (the next statement's
      // result, each CommandComplete) must still come after every row of the runs.
      const [big, after] = (await client.query(`${sql}; select 'after' as marker`)) as unknown as pg.QueryResult[];
      expect(big.rows.map((r) => [r.g, r.id, r.ssn])).toEqual(rows.map((r) => [r.g, r.id, "[REDACTED]"]));
      expect(after.rows).toEqual([{ marker: "after" }]);
    } finally {
      await client.end();
    }
    expect(rows).toHaveLength(20_000);
    const hashes = new Map<number, string>();
    rows.forEach((row, i) => {
      expect([row.g, row.id]).toEqual([Math.floor(i / 2) + 1, (i % 2) + 1]);
      expect(row.ssn).toBe("[REDACTED]");
      expect(row.email).toMatch(/^h_[0-9a-f]{12}$/);
      expect(row.note).toBe(`call ${row.email}`);
      // the same value, the same token, whichever thread masked it
      expect(hashes.get(row.id) ?? row.email).toBe(row.email);
      hashes.set(row.id, row.email);
    });
    expect(gh.output()).toContain("masking worker started");
    const events = await sessionEvents("pg15-masked", "np-bulk");
    const req = events.find((e) => e.kind === "request" && e.payload.text === sql)!;
    const result = events.find((e) => e.kind === "result" && e.payload.requestSeq === req.seq)!;
    expect(result.payload.rows).toBe(20_000);
    // email, ssn and the email inside note, in every row
    expect(result.payload.maskedCells).toBe(60_000);
  });

  it("binary results of a type the gateway cannot encode end the session with 0A000 instead of leaking", async () => {
    const client = pgClient("pg15-masked", { binary: true } as pg.ClientConfig);
    await client.connect();
    const ended = new Promise((r) => client.once("end", r));
    client.on("error", () => {});
    const err = await client.query({ text: "select ssn, interval '1 day' * id as age from customers where id = $1", values: [1] }).catch((e) => e);
    expect(err.code).toBe("0A000");
    expect(err.message).toContain(`column "age" (type oid 1186)`);
    await ended;
  });

  it("harmless session settings run without approval; role changes wait for one", async () => {
    const r = await psql("pg15", [
      "-c",
      "SET application_name = 'etl-job'; SET statement_timeout = 5000; SET TIME ZONE 'UTC'; SET extra_float_digits = 3; SET search_path TO public; SET client_encoding = 'UTF8'",
      "-c",
      "SELECT current_setting('statement_timeout') AS st, current_setting('TimeZone') AS tz, set_config('application_name', 'etl-2', false) AS app",
      "-c",
      "RESET statement_timeout; SHOW statement_timeout",
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/5s\s+\| UTC\s+\| etl-2/);
    expect(r.stdout).toMatch(/statement_timeout\s*\n-+\n 0\n/);
    const events = (await eventsBySession("pg15")).find((list) => list.some((e) => e.payload.text?.startsWith("SET application_name = 'etl-job'")))!;
    const sets = events.filter((e) => e.kind === "request" && e.payload.action !== "connect");
    expect(sets.map((e) => e.payload.kind)).toEqual(["read", "read", "read"]);
    for (const req of sets) expect(req.payload.verdict).toBe("allow");
    expect(events.some((e) => e.kind === "held")).toBe(false);

    // SET ROLE is admin: held, and refused here when the approver denies it.
    const running = psql("pg15", ["-c", "SET ROLE postgres"]);
    let approval: Record<string, any> | undefined;
    for (let i = 0; i < 200 && !approval; i++) {
      await new Promise((res) => setTimeout(res, 50));
      const list = await apiCall(gh.url, tokens.approver, "GET", "/approvals?status=pending");
      approval = (list.body.approvals as Record<string, any>[]).find((a) => JSON.stringify(a).includes("SET ROLE postgres"));
    }
    expect(approval, "SET ROLE is held for approval").toBeTruthy();
    expect((await apiCall(gh.url, tokens.approver, "POST", `/approvals/${approval!.id}/deny`, { reason: "no" })).status).toBe(200);
    const denied = await running;
    expect(denied.stderr).toContain("held for approval");
    expect(denied.stderr).toContain("denied by approver");

    // A byte-reading change is refused outright, whatever the policy.
    const sjis = await psql("pg15", ["-c", "SET client_encoding = 'SJIS'"]);
    expect(sjis.stderr).toContain("client_encoding SJIS is not supported through the gateway");
  });

  it("a search_path change is a read, and cannot route around masking (columns resolve to real relations)", async () => {
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create schema if not exists shadow; create or replace view shadow.customers as select * from public.customers");
    await direct.end();
    const r = await psql("pg15-masked", [], "SET search_path = shadow, public;\nselect email, ssn, card_number, upper(email) as e from customers order by id;\nselect c.ssn from customers c where c.id = 2;\n");
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("[REDACTED]");
    for (const c of CUSTOMERS) for (const v of [c.email, c.ssn, c.card, c.email.toUpperCase()]) expect(r.stdout.includes(v), `leaked ${v}`).toBe(false);
  });

  const META = `\\d
\\dt
\\d customers
\\di
\\dn
\\df
\\l
select 'done' as marker;
`;

  function expectMetaOutput(r: PsqlRun) {
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    // \d and \dt list both tables; \d customers describes its columns, types, index and the FK.
    expect(r.stdout).toMatch(/public \| customers\s+\| table/);
    expect(r.stdout).toMatch(/public \| orders\s+\| table/);
    expect(r.stdout).toContain('Table "public.customers"');
    expect(r.stdout).toMatch(/ email\s+\| text/);
    expect(r.stdout).toMatch(/ balance\s+\| numeric\(12,2\)/);
    expect(r.stdout).toContain('"customers_pkey" PRIMARY KEY, btree (id)');
    expect(r.stdout).toContain('"customers_email_idx" btree (email)');
    expect(r.stdout).toContain('TABLE "orders" CONSTRAINT "orders_customer_id_fkey"');
    expect(r.stdout).toContain("List of schemas");
    expect(r.stdout).toContain("List of databases");
    expect(r.stdout).toContain("done");
  }

  it("psql meta-commands (\\d, \\dt, \\d customers, ...) from a file with -f", async () => {
    const file = path.join(os.tmpdir(), `gh-meta-${process.pid}.sql`);
    fs.writeFileSync(file, META);
    try {
      expectMetaOutput(await psql("pg15", ["-f", file]));
    } finally {
      fs.rmSync(file, { force: true });
    }
    // Each catalog query psql sent was classified as a read and recorded.
    const events = (await eventsBySession("pg15", "psql")).find((list) => list.some((e) => e.payload.text?.includes("done")))!;
    const reqs = events.filter((e) => e.kind === "request" && e.payload.text?.includes("pg_catalog"));
    expect(reqs.length).toBeGreaterThan(5);
    expect(new Set(reqs.map((e) => e.payload.kind))).toEqual(new Set(["read"]));
  });

  it("psql meta-commands typed on stdin (as an interactive session feeds them)", async () => {
    expectMetaOutput(await psql("pg15", [], META));
  });

  it("psql \\d on a masked connection still describes tables (catalog queries pass, data stays masked)", async () => {
    const r = await psql("pg15-masked", [], "\\d customers\nselect email, ssn from customers order by id;\n");
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain('Table "public.customers"');
    expect(r.stdout).not.toContain(CUSTOMERS[0].email);
    expect(r.stdout).not.toContain(CUSTOMERS[0].ssn);
  });
});
