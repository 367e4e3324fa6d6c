import fs from "node:fs";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { sqlOnce, startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * PostgreSQL gateway hunt, round 2 (SECURITY.md "Policy and guardrail bypass (SQL)" and "Masking
 * bypass"), tried for real with psql through a real Gatehouse to a real PostgreSQL 15. Each test
 * failed before its fix.
 *
 * - h2-ro permits reads only, unmasked: a write must not pass as a read.
 * - h2-masked permits reads under the shipped "pii" rules (`*.password*` masked whole).
 * - h2-rw permits anything under the same masking, as an approved hold would.
 * - h2-admin permits anything unmasked: the DBA whose DDL the masked sessions must see at once.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("reads")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "h2-ro" || resource.name == "h2-admin" };

@id("reads-masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "h2-masked" };

@id("anything-masked")
@mask("pii")
permit (principal, action, resource)
when { resource.name == "h2-rw" };

@id("anything-admin")
permit (principal, action, resource)
when { resource.name == "h2-admin" };
`;

const MEMBER = "hunt2@example.test";
const SECRET = "pbkdf2$Hq7LmZx2Wv";
const RENAMED = "argon2$Tk5RwQ8nYp";
const FORMS = [SECRET, RENAMED].flatMap((s) => [s, [...s].reverse().join(""), s.toLowerCase()]);

describe("PostgreSQL gateway hunt, round 2", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";

  const psql = (sql: string, db: string) => runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", "-c", sql]);
  const expectNoSecret = (out: string, what: string) => {
    for (const s of FORMS) expect(out.includes(s), `${what} leaked ${s}:\n${out}`).toBe(false);
  };
  const direct = <T extends Record<string, unknown>[]>(sql: string) => sqlOnce<T>(pg15.url, sql);
  const audited = async () => (await direct<{ body: string }[]>("select body from audit")).map((r) => r.body);

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, admin, "POST", "/users", { email: MEMBER, password: "a-long-password-1", role: "member", groups: [] })).status).toBe(200);
    token = await login(gh.url, MEMBER, "a-long-password-1");
    for (const name of ["h2-ro", "h2-masked", "h2-rw", "h2-admin"]) {
      const res = await apiCall(gh.url, admin, "POST", "/connections", { name, type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test", tags: ["staging"] });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const put = await apiCall(gh.url, admin, "PUT", "/policies", { text: POLICIES, comment: "hunt 2" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await direct(`
      create table audit (body text);
      create table counters (n int);
      insert into counters values (0);
      create table vault (id int, login text, password_hash text);
      insert into vault values (1, 'user1', '${SECRET}');
      -- functions a DBA wrote that write when called from a SELECT
      create function write_audit() returns int language plpgsql as $$ begin insert into audit values ('plpgsql'); return 1; end $$;
      create function bump() returns int language sql as 'update counters set n = n + 1 returning n';
      -- STABLE, so PostgreSQL refuses an INSERT in its body, but not in a function it calls
      create function looks_stable() returns int language plpgsql stable as $$ begin return write_audit(); end $$;
      create function write_op(int, int) returns int language plpgsql as $$ begin insert into audit values ('operator'); return $1 + $2; end $$;
      create operator #@# (leftarg = int, rightarg = int, function = write_op);
      create view audit_view as select write_audit() as w;
      -- a cast a user defined as IMPLICIT: length(w) runs it without naming it
      create type wrap as (v text);
      create function wrap_to_text(wrap) returns text language plpgsql as $$ begin insert into audit values ($1.v); return $1.v; end $$;
      create cast (wrap as text) with function wrap_to_text(wrap) as implicit;
      create table wrapped (id int, password_w wrap);
      insert into wrapped values (1, row('${SECRET}'));
      -- a domain over a domain whose CHECK runs a user function
      create function chk(t text) returns boolean language plpgsql as $$ begin insert into audit values (t); return true; end $$;
      create domain checked as text check (chk(value));
      create domain checked_again as checked;
      create function chk_copy(t text) returns boolean language plpgsql as $$ begin insert into audit select password_hash from vault; return true; end $$;
      create domain copying as text check (chk_copy(value));
      create domain copying_again as copying;
      create table forms (id int, answer copying_again);
      create table creds (id int, secret_v2 text);
      insert into creds values (1, '${RENAMED}');
      create function leak_sql() returns text language sql as 'select password_hash from vault';
      create extension pageinspect;
      create extension xml2;
      -- a type whose default sort order is a user function: ORDER BY runs it unnamed
      create type sorted as (v text);
      create function sorted_cmp(a sorted, b sorted) returns int language plpgsql as $$ begin insert into audit values (a.v); return case when a.v < b.v then -1 when a.v > b.v then 1 else 0 end; end $$;
      create function sorted_lt(a sorted, b sorted) returns boolean language sql as 'select sorted_cmp(a, b) < 0';
      create function sorted_le(a sorted, b sorted) returns boolean language sql as 'select sorted_cmp(a, b) <= 0';
      create function sorted_eq(a sorted, b sorted) returns boolean language sql as 'select sorted_cmp(a, b) = 0';
      create function sorted_ge(a sorted, b sorted) returns boolean language sql as 'select sorted_cmp(a, b) >= 0';
      create function sorted_gt(a sorted, b sorted) returns boolean language sql as 'select sorted_cmp(a, b) > 0';
      create operator <<# (leftarg = sorted, rightarg = sorted, function = sorted_lt);
      create operator <<=# (leftarg = sorted, rightarg = sorted, function = sorted_le);
      create operator =# (leftarg = sorted, rightarg = sorted, function = sorted_eq);
      create operator >>=# (leftarg = sorted, rightarg = sorted, function = sorted_ge);
      create operator >># (leftarg = sorted, rightarg = sorted, function = sorted_gt);
      create operator class sorted_ops default for type sorted using btree as
        operator 1 <<#, operator 2 <<=#, operator 3 =#, operator 4 >>=#, operator 5 >>#, function 1 sorted_cmp(sorted, sorted);
      create table sorted_vault (id int, password_s sorted);
      insert into sorted_vault values (1, row('${SECRET}')), (2, row('${SECRET}x'));
      create table mcp_creds (id int, secret_v3 text);
      insert into mcp_creds values (1, '${RENAMED}');`);
  });
  afterAll(async () => {
    await gh?.stop();
    await pg15?.stop();
    if (gh) fs.rmSync(gh.dataDir, { recursive: true, force: true });
  });

  it("builtin functions still make a read (the baseline)", async () => {
    const r = await psql("select upper(login), length(login), now() is not null from vault", "h2-ro");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("USER1|5|t");
  });

  it.each([
    ["a plpgsql function that inserts", "select write_audit()"],
    ["a SQL function that updates", "select bump()"],
    ["a STABLE function that calls one that inserts", "select looks_stable()"],
    ["a user function in WHERE", "select 1 from vault where write_audit() = 1"],
    ["a user-defined operator", "select 1 #@# 2"],
    ["a view over a writing function", "select * from audit_view"],
    ["an implicit cast a user defined", "select length(password_w) from wrapped"],
    ["a domain CHECK in a column definition list", "select * from json_to_record('{\"a\": \"x\"}') as x(a checked)"],
    ["a domain CHECK run by domain_in", "select domain_in('x'::cstring, 'checked'::regtype, -1) is null"],
    ["a type's default sort order written by a user, run by ORDER BY", "select id from sorted_vault order by password_s"],
    ["PREPARE and EXECUTE of a writing function", "prepare w1 as select write_audit(); execute w1"],
  ])("code written in the database that may write is not a read: %s", async (_what, sql) => {
    const before = await direct<{ n: number }[]>("select (select count(*)::int from audit) + (select n from counters) as n");
    const r = await psql(sql, "h2-ro");
    expect(r.out).toContain("42501");
    const after = await direct<{ n: number }[]>("select (select count(*)::int from audit) + (select n from counters) as n");
    expect(after[0].n, `${sql} wrote through a read-only policy`).toBe(before[0].n);
  });

  it.each([
    ["an implicit cast a user defined, on a masked column", "select length(password_w) from wrapped"],
    ["an explicit cast to a domain over a domain with a CHECK", "select password_hash::checked_again from vault"],
    ["an explicit cast to a domain with a CHECK", "select password_hash::checked from vault"],
    ["a column typed as a domain over a domain with a CHECK", "insert into forms values (1, 'yes')"],
    ["a domain in a column definition list", "select * from vault, json_to_record(json_build_object('a', password_hash)) as x(a checked)"],
    ["a table's row type holding such a domain", "select * from vault, json_populate_record(null::forms, json_build_object('answer', password_hash))"],
    ["a row cast to that row type", "select row(1, password_hash)::forms from vault"],
    ["domain_in with the domain given at run time", "select domain_in(password_hash::cstring, 'checked'::regtype, -1) is null from vault"],
    ["a type's default sort order written by a user (ORDER BY, DISTINCT)", "select id from sorted_vault order by password_s; select count(distinct password_s) from sorted_vault"],
  ])("code reached through a type does not see a masked value: %s", async (_what, sql) => {
    const r = await psql(`begin; ${sql}; select body from audit; rollback`, "h2-rw");
    expect(r.out).toContain("0A000");
    expectNoSecret(r.out, sql);
    expectNoSecret((await audited()).join("\n"), sql);
  });

  it.each([
    ["xml2's xpath_table, which runs SQL built from its arguments", "select * from xpath_table('id', '''<a>'' || password_hash || ''</a>''', 'vault', '/a', 'true') as t(id int, v varchar)"],
    ["pageinspect's get_raw_page, a table's bytes by name", "select encode(get_raw_page('vault', 0), 'escape')"],
    ["query_to_xml, SQL text run inside", "select query_to_xml('select password_hash from vault', true, false, '')"],
  ])("built-ins that read around masking are admin, and refused under masking: %s", async (_what, sql) => {
    const ro = await psql(sql, "h2-ro");
    expect(ro.out).toContain("42501");
    expectNoSecret(ro.out, sql);
    const rw = await psql(sql, "h2-rw");
    expect(rw.out).toContain("0A000");
    expectNoSecret(rw.out, sql);
  });

  /** run_sql over MCP (the same PostgreSQL path, without a wire protocol) as MEMBER */
  const runSql = async (connection: string, sql: string): Promise<{ error: boolean; text: string }> => {
    const client = new Client({ name: "hunt2", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    try {
      const r = (await client.callTool({ name: "run_sql", arguments: { connection, sql } }, undefined, { timeout: 60_000 })) as CallToolResult;
      return { error: r.isError === true, text: r.content.map((c) => (c.type === "text" ? c.text : "")).join("\n") };
    } finally {
      await client.close();
    }
  };

  it("run_sql over MCP: a function that writes is not a read either", async () => {
    const before = (await audited()).length;
    const r = await runSql("h2-ro", "select write_audit()");
    expect(r.error, r.text).toBe(true);
    expect((await audited()).length).toBe(before);
  });

  it("run_sql over MCP: code written in the database does not hand a masked principal the clear value", async () => {
    for (const sql of ["select leak_sql()", "select length(password_w) from wrapped", "select password_hash::checked_again from vault"]) {
      const r = await runSql("h2-rw", `${sql}`);
      expect(r.error, `${sql}: ${r.text}`).toBe(true);
      expectNoSecret(r.text, sql);
    }
    expectNoSecret((await audited()).join("\n"), "run_sql");
  });

  it("run_sql over MCP: DDL run there makes the catalog answers kept for masking forget at once", async () => {
    expect((await runSql("h2-masked", "select secret_v3 from mcp_creds")).text).toContain(RENAMED);
    const ddl = await runSql("h2-admin", "alter table mcp_creds rename column secret_v3 to password_v3");
    expect(ddl.error, ddl.text).toBe(false);
    const r = await runSql("h2-masked", "select password_v3 from mcp_creds");
    expect(r.error, r.text).toBe(false);
    expect(r.text).toContain("[REDACTED]");
    expectNoSecret(r.text, "password_v3");
  });

  it("a column renamed through the gateway is masked by its new name at once, on every connection to that database", async () => {
    // The masked session reads the table first: its catalog answer is now kept.
    const first = await psql("select secret_v2 from creds", "h2-masked");
    expect(first.out).toContain(RENAMED);
    const ddl = await psql("alter table creds rename column secret_v2 to password_v2", "h2-admin");
    expect(ddl.out).toContain("ALTER TABLE");
    for (const sql of ["select password_v2 from creds", "select * from creds", "select upper(password_v2) from creds"]) {
      const r = await psql(sql, "h2-masked");
      expect(r.code, r.out).toBe(0);
      expect(r.out).toContain("[REDACTED]");
      expectNoSecret(r.out, sql);
    }
  });

  it("a function created through the gateway counts as code written in the database at once", async () => {
    // Looked up (and found absent) before it exists...
    const missing = await psql("select fresh_leak()", "h2-rw");
    expect(missing.out).toContain("42883");
    const ddl = await psql("create function fresh_leak() returns text language sql as 'select password_hash from vault'", "h2-admin");
    expect(ddl.out).toContain("CREATE FUNCTION");
    // ...and refused the moment it does.
    const r = await psql("select fresh_leak()", "h2-rw");
    expect(r.out).toContain("0A000");
    expectNoSecret(r.out, "fresh_leak");
  });
});

/**
 * The same rename, run through one Gatehouse process while a masked session reads through
 * another on the same store: the other forgets what it kept as soon as the change is announced.
 */
describe("PostgreSQL gateway hunt, round 2: two Gatehouse processes", () => {
  let pg15: Postgres15;
  let a: GatehouseProcess;
  let b: GatehouseProcess;
  let token = "";
  const env = () => ({ DATABASE_URL: pg15.url, GATEHOUSE_SECRET_KEY: Buffer.alloc(32, 7).toString("base64") });
  const psql = (gh: GatehouseProcess, sql: string, db: string) => runPsql(gatewayConninfo(gh.ports.postgres, db, gh.adminEmail), token, ["-A", "-t", "-c", sql]);

  beforeAll(async () => {
    pg15 = await startPostgres15();
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe(`create table creds (id int, secret_v2 text); insert into creds values (1, '${RENAMED}')`);
    await direct.end();
    [a, b] = await Promise.all([startGatehouse({ env: env(), demo: false }), startGatehouse({ env: env(), demo: false })]);
    token = await login(a.url, a.adminEmail, a.adminPassword);
    for (const name of ["h2-masked", "h2-admin"]) {
      const res = await apiCall(a.url, token, "POST", "/connections", { name, type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    expect((await apiCall(a.url, token, "PUT", "/policies", { text: POLICIES, comment: "hunt 2" })).status).toBe(200);
    // Wait until b enforces them: the masked read is permitted there.
    for (let i = 0; i < 100 && (await psql(b, "select 1", "h2-masked")).code !== 0; i++) await new Promise((r) => setTimeout(r, 200));
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await pg15?.stop();
    for (const p of [a, b]) if (p) fs.rmSync(p.dataDir, { recursive: true, force: true });
  });

  it("a column renamed through one process is masked by its new name at once through the other", async () => {
    const first = await psql(b, "select secret_v2 from creds", "h2-masked");
    expect(first.out).toContain(RENAMED);
    const ddl = await psql(a, "begin; alter table creds rename column secret_v2 to password_v2; commit", "h2-admin");
    expect(ddl.out).toContain("COMMIT");
    const r = await psql(b, "select password_v2 from creds", "h2-masked");
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain("[REDACTED]");
    expect(r.out).not.toContain(RENAMED);
  });
});
