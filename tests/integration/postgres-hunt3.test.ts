import { execFile } from "node:child_process";
import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { sqlOnce, startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * PostgreSQL gateway hunt, round 3: code written in the database that a write runs without
 * naming it (triggers, defaults, domain CHECKs, an extension's trigger functions), casts, and the
 * policy simulator giving the gateway's answer. psql and pgbench through a real Gatehouse to a
 * real PostgreSQL 15. Each test failed before its fix.
 *
 * - h3-ro permits reads only, unmasked.
 * - h3-writer permits reads and plain writes (kind "write"), unmasked, not "unknown".
 * - h3-ddl permits DDL (kind "ddl"), unmasked, not "unknown".
 * - h3-rw permits anything under the shipped "pii" rules (`*.password*` masked whole).
 * - h3-cast permits reads, on another database whose superuser wrote a cast between built-in types.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("reads")
permit (principal, action == Gatehouse::Action::"read", resource)
when { ["h3-ro", "h3-writer", "h3-cast"].contains(resource.name) };

@id("ddl")
permit (principal, action == Gatehouse::Action::"ddl", resource)
when { resource.name == "h3-ddl" && context.request.kind == "ddl" };

@id("plain-writes")
permit (principal, action == Gatehouse::Action::"write", resource)
when { resource.name == "h3-writer" && context.request.kind == "write" };

@id("anything-masked")
@mask("pii")
permit (principal, action, resource)
when { resource.name == "h3-rw" };
`;

const MEMBER = "hunt3@example.test";
const SECRET = "scrypt$Jw4NcVb8Qe";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

describe("PostgreSQL gateway hunt, round 3", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";

  const psql = (sql: string, db: string) => runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", "-c", sql]);
  const direct = <T extends Record<string, unknown>[]>(sql: string, database = "postgres") => sqlOnce<T>(pg15.url.replace(/\/postgres$/, `/${database}`), sql);
  /** rows written by code in the database, and the rows a cascade deletes */
  const effects = async () => (await direct<{ n: number[] }[]>("select array[(select count(*) from audit), (select count(*) from ref_child), (select count(*) from child), (select count(*) from trunc_child)]::int[] as n"))[0].n;

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: MEMBER, password: "a-long-password-1", role: "member", groups: [] })).status).toBe(200);
    token = await login(gh.url, MEMBER, "a-long-password-1");
    for (const name of ["h3-ro", "h3-writer", "h3-rw", "h3-cast", "h3-ddl"]) {
      const db = name === "h3-cast" ? "h3cast" : "postgres";
      const res = await apiCall(gh.url, admin, "POST", "/connections", { name, type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/${db}`, username: "postgres", secret: "gatehouse-test" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const put = await apiCall(gh.url, admin, "PUT", "/policies", { text: POLICIES, comment: "hunt 3" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await direct(`
      create table audit (body text);
      create table vault (id int, login text, password_hash text);
      insert into vault values (1, 'user1', '${SECRET}');
      create table plain (id int, v text);
      create function write_audit() returns int language plpgsql as $$ begin insert into audit values ('called'); return 1; end $$;
      -- a trigger that copies a masked column into a table nobody masks
      create function copy_secret() returns trigger language plpgsql as $$ begin insert into audit select password_hash from vault; return null; end $$;
      create table triggered (id int);
      create trigger triggered_copy after insert or update or delete on triggered for each row execute function copy_secret();
      -- a column default that calls a function which writes
      create function audit_default() returns int language plpgsql as $$ begin insert into audit select password_hash from vault; return 1; end $$;
      create table defaulted (id int, n int default audit_default());
      -- a domain whose CHECK writes
      create function chk(t text) returns boolean language plpgsql as $$ begin insert into audit values (t); return true; end $$;
      create domain checked as text check (chk(value));
      create table forms (id int, answer checked);
      -- a foreign key cascading a DELETE into a table with a trigger
      create table parent (id int primary key);
      create table child (id int, parent_id int references parent on delete cascade);
      create trigger child_copy after delete on child for each row execute function copy_secret();
      insert into parent values (1);
      insert into child values (1, 1);
      -- TRUNCATE ... CASCADE empties the tables that reference it, and fires their TRUNCATE triggers
      create table trunc_parent (id int primary key);
      create table trunc_child (pid int references trunc_parent);
      create trigger trunc_copy after truncate on trunc_child for each statement execute function copy_secret();
      insert into trunc_parent values (1);
      insert into trunc_child values (1);
      -- rows routed into a partition, or updated in an inheritance child, fire that table's triggers
      create table parted (id int, v text) partition by list (id);
      create table parted_1 partition of parted for values in (1);
      create trigger parted_copy after insert on parted_1 for each row execute function copy_secret();
      create table inh_parent (id int);
      create table inh_child () inherits (inh_parent);
      create trigger inh_copy after update on inh_child for each row execute function copy_secret();
      insert into inh_child values (1);
      -- an extension's trigger function: refint deletes from the table its arguments name
      create extension refint;
      create table ref_parent (id int);
      create table ref_child (pid int);
      create trigger ref_cascade before delete or update on ref_parent for each row execute function check_foreign_key(1, 'cascade', 'id', 'ref_child', 'pid');
      insert into ref_parent values (1);
      insert into ref_child values (1);
      -- an extension's trigger function: tcn sends the row's key in a NOTIFY payload
      create extension tcn;
      create table keyed (password_key text primary key, n int);
      insert into keyed values ('${SECRET}', 0);
      create trigger keyed_tcn after update on keyed for each row execute function triggered_change_notification('keyed_changes');
      -- casts written by users, to and from text
      create type wrap as (v text);
      create function wrap_to_text(wrap) returns text language plpgsql as $$ begin insert into audit values ('wrap_to_text'); return $1.v; end $$;
      create cast (wrap as text) with function wrap_to_text(wrap) as implicit;
      create function text_to_wrap(text) returns wrap language plpgsql as $$ begin insert into audit values ('text_to_wrap'); return row($1)::wrap; end $$;
      create cast (text as wrap) with function text_to_wrap(text);
      -- extensions Debian's PostgreSQL 15 ships whose functions reach around policy and masking
      create extension pg_walinspect;
      create extension pg_prewarm;
      create extension adminpack;
      -- an event trigger that writes on every DDL (created last: the DDL above does not fire it)
      create function log_ddl() returns event_trigger language plpgsql as $$ begin insert into audit values (tg_tag); end $$;
      create event trigger log_ddl on ddl_command_end execute function log_ddl();`);
    await direct("create database h3cast");
    await direct(`
      create table audit (body text);
      create function int8_to_text(int8) returns text language plpgsql as $$ begin insert into audit values ('int8_to_text'); return format('%s', $1); end $$;
      create cast (int8 as text) with function int8_to_text(int8);`, "h3cast");
  });
  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it.each([
    ["a trigger", "insert into triggered values (1)"],
    ["a column default calling a function", "insert into defaulted (id) values (1)"],
    ["a domain CHECK of the column stored into", "insert into forms values (1, 'yes')"],
    ["a foreign key's cascade into a table with a trigger", "delete from parent where id = 1"],
    ["an extension's trigger that deletes from other tables (refint)", "delete from ref_parent where id = 1"],
    ["a trigger, through PREPARE and EXECUTE", "prepare w as insert into triggered values (2); execute w"],
    ["TRUNCATE CASCADE into a table with a TRUNCATE trigger", "truncate trunc_parent cascade"],
    ["a row routed into a partition with a trigger", "insert into parted values (1, 'x')"],
    ["an UPDATE of an inheritance child with a trigger, through its parent", "update inh_parent set id = id"],
  ])("a write that fires code written in the database is not a plain write: %s", async (_what, sql) => {
    const before = await effects();
    const r = await psql(sql, "h3-writer");
    expect(r.out).toContain("42501");
    expect(await effects(), `${sql} ran code the policy never saw`).toEqual(before);
  });

  it("a write that fires a trigger is not a plain write through the extended protocol either (postgres.js)", async () => {
    const before = await effects();
    const client = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "h3-writer", username: MEMBER, password: token, ssl: false, max: 1 });
    try {
      const err = await client.unsafe("insert into triggered values ($1)", [5]).then(() => null, (e: { code?: string }) => e);
      expect(err?.code).toBe("42501");
      expect((await client.unsafe("insert into plain values ($1, $2) returning id", [7, "p"]))[0].id).toBe(7);
    } finally {
      await client.end();
    }
    expect(await effects()).toEqual(before);
  });

  it("DDL that fires an event trigger written in the database is not plain DDL", async () => {
    const before = await effects();
    const r = await psql("create table made_by_ddl (id int)", "h3-ddl");
    expect(r.out).toContain("42501");
    expect(await effects()).toEqual(before);
    expect(await direct("select 1 from pg_class where relname = 'made_by_ddl'")).toHaveLength(0);
  });

  it("writes to tables without code written in the database stay plain writes", async () => {
    const r = await psql("insert into plain values (1, 'a'); update plain set v = 'b' where id = 1; delete from plain where id = 1", "h3-writer");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("DELETE 1");
  });

  it("pgbench's TPC-B runs as plain writes", async () => {
    const init = await new Promise<Run>((resolve) =>
      execFile("pgbench", ["-i", "-s", "1", "-q", pg15.url], { timeout: 120_000 }, (e, stdout, stderr) => resolve({ code: e ? 1 : 0, stdout, stderr })),
    );
    expect(init.code, init.stderr).toBe(0);
    const env = { ...process.env, PGPASSWORD: token, PGHOST: "127.0.0.1", PGPORT: String(gh.ports.postgres), PGUSER: MEMBER, PGDATABASE: "h3-writer", PGSSLMODE: "disable" };
    for (const mode of ["simple", "extended"]) {
      const r = await new Promise<Run>((resolve) =>
        execFile("pgbench", ["-n", "-t", "5", "-c", "2", "-M", mode], { env, timeout: 120_000 }, (e, stdout, stderr) => resolve({ code: e ? 1 : 0, stdout, stderr })),
      );
      expect(r.code, `${mode}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toContain("number of transactions actually processed: 10/10");
    }
  }, 120_000);

  it("under masking, an extension's trigger does not send a masked key in a NOTIFY payload (tcn)", async () => {
    const r = await psql("listen keyed_changes; update keyed set n = n + 1", "h3-rw");
    expect(r.out).toContain("0A000");
    expect(r.out).not.toContain(SECRET);
    expect((await direct<{ n: number }[]>("select n from keyed"))[0].n).toBe(0);
  });

  it("under masking, a trigger does not copy a masked column", async () => {
    const r = await psql("begin; insert into triggered values (3); select body from audit; rollback", "h3-rw");
    expect(r.out).toContain("0A000");
    expect(r.out).not.toContain(SECRET);
  });

  it("a cast counts as code written in the database only from the operand's type, when the text gives it", async () => {
    const before = await effects();
    const r = await psql("select 'x'::text, 1::text, true::text, null::text, 'x'::text::varchar, 1::int8, text 'y'", "h3-ro");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("x|1|true||x|1|y");
    expect(await effects()).toEqual(before);
  });

  it.each([
    ["a cast written by users from the operand's type", "select '(x)'::wrap::text"],
    ["a cast written by users to the target type, from text", "select 'x'::text::wrap"],
    ["an operand whose type the text does not give", "select v::text from (values (1::int8)) s(v)"],
  ])("...and still does where it may run: %s", async (_what, sql) => {
    const before = await effects();
    const r = await psql(sql, "h3-ro");
    expect(r.out).toContain("42501");
    expect(await effects(), `${sql} ran a cast written by users`).toEqual(before);
  });

  it.each([
    ["a built-in SQL function casting inside (textanycat)", "select count(*) || ' rows'"],
    ["quote_literal of a value of that type", "select quote_literal(count(*))"],
    ["the cast written out", "select 1::int8::text"],
  ])("a cast a superuser wrote between built-in types counts as code written in the database anywhere: %s", async (_what, sql) => {
    const calls = async () => (await direct<{ n: number }[]>("select count(*)::int as n from audit", "h3cast"))[0].n;
    const before = await calls();
    const r = await psql(sql, "h3-cast");
    expect(r.out).toContain("42501");
    expect(await calls(), `${sql} ran a cast written by users`).toBe(before);
  });

  describe("extension functions that reach around policy and masking", () => {
    let lsn = "";
    beforeAll(async () => {
      // An application's outbox message, in the WAL of the database.
      lsn = (await direct<{ lsn: string }[]>("select pg_current_wal_insert_lsn()::text as lsn"))[0].lsn;
      await direct(`select pg_logical_emit_message(true, 'outbox', '${SECRET}')`);
    });
    const walRead = () => `select description from pg_get_wal_records_info_till_end_of_wal('${lsn}') where resource_manager = 'LogicalMessage'`;
    const hex = [...Buffer.from(SECRET)].map((b) => b.toString(16).toUpperCase().padStart(2, "0")).join(" ");

    it("pg_walinspect reads a logical message's payload (the baseline, directly)", async () => {
      expect((await direct<{ description: string }[]>(walRead())).map((r) => r.description).join("\n")).toContain(hex);
    });

    it.each([
      ["pg_walinspect: WAL records with their payloads", walRead],
      ["pg_prewarm: a file written in the data directory", () => "select autoprewarm_dump_now()"],
      ["adminpack: a server file written", () => "select pg_file_write('hunt3.txt', 'x', false)"],
      ["a server file read", () => "select pg_read_file('postgresql.conf')"],
      ["a large object exported to a server file", () => "select lo_export(0, '/tmp/hunt3-lo')"],
    ])("are admin, not reads: %s", async (_what, sql) => {
      const r = await psql(sql(), "h3-ro");
      expect(r.out).toContain("42501");
      expect(r.out).not.toContain(hex);
    });

    it("pg_walinspect is refused under masking: masking cannot follow a payload in hex", async () => {
      const r = await psql(walRead(), "h3-rw");
      expect(r.out).toContain("0A000");
      expect(r.out).not.toContain(hex);
    });
  });

  it.each([
    ["h3-ro", "select write_audit()"],
    ["h3-ro", "select count(*) from vault"],
    ["h3-ro", "select '(x)'::wrap::text"],
    ["h3-ro", "select 1::text"],
    ["h3-writer", "insert into triggered values (4)"],
    ["h3-writer", "insert into plain values (2, 'b')"],
  ])("the policy simulator gives the gateway's answer: %s %s", async (connection, statement) => {
    const sim = await apiCall(gh.url, token, "POST", "/policies/simulate", { principal: MEMBER, connection, statement });
    expect(sim.status, JSON.stringify(sim.body)).toBe(200);
    const simulated = (sim.body as { simulation: { verdict: { type: string } } }).simulation.verdict.type;
    const r = await psql(`begin; ${statement}; rollback`, connection);
    const gateway = r.out.includes("42501") ? "deny" : r.code === 0 ? "allow" : `failed: ${r.out}`;
    expect(simulated, JSON.stringify(sim.body)).toBe(gateway);
  });

  it("the simulator says why the upstream made a statement unknown, naming the code only to those who may read users", async () => {
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const body = { principal: MEMBER, connection: "h3-ro", statement: "select write_audit()" };
    const full = (await apiCall(gh.url, admin, "POST", "/policies/simulate", body)).body as { request: { kind: string }; upstream: { userCode: string } };
    expect(full.request.kind).toBe("unknown");
    expect(full.upstream.userCode).toContain("public.write_audit");
    const member = (await apiCall(gh.url, token, "POST", "/policies/simulate", body)).body as { upstream: { userCode: string } };
    expect(member.upstream.userCode).toMatch(/code written in the database/);
    expect(member.upstream.userCode).not.toContain("write_audit");
    const plain = (await apiCall(gh.url, admin, "POST", "/policies/simulate", { ...body, statement: "select 1::text" })).body as { request: { kind: string }; upstream: { userCode: string | null } };
    expect(plain.request.kind).toBe("read");
    expect(plain.upstream.userCode).toBeNull();
  });

  it("the simulator says so when it answers without the upstream's catalog", async () => {
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const made = await apiCall(gh.url, admin, "POST", "/connections", { name: "h3-gone", type: "postgres", upstream: "postgres://127.0.0.1:1/postgres", username: "postgres", secret: "gatehouse-test" });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    const sim = await apiCall(gh.url, admin, "POST", "/policies/simulate", { principal: MEMBER, connection: "h3-gone", statement: "select write_audit()" });
    expect(sim.status, JSON.stringify(sim.body)).toBe(200);
    const body = sim.body as { request: { kind: string }; upstream: { userCode: string | null; unread?: string } };
    expect(body.request.kind).toBe("read");
    expect(body.upstream.unread).toMatch(/could not be read: answered from the statement's text alone/);
    expect(JSON.stringify(body)).not.toContain("127.0.0.1:1");
  });
});
