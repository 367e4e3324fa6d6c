import { randomUUID } from "node:crypto";
import fs from "node:fs";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { heldApproval } from "../support/api-fixture";
import { apiCall, login, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { gatewayClient } from "../support/gateway-pg";
import { mcpRunSql, resultText } from "../support/mcp-run-sql";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * Classic SQL guardrail attacks (SECURITY.md, "Policy and guardrail bypass"), sent by real psql
 * and postgres.js through a real Gatehouse to a real PostgreSQL 15. classify.test.ts proves the
 * classifier's answers; this proves the gateway acts on them: each attack is refused (42501) or
 * held, and PostgreSQL shows that nothing happened (rows, files, settings).
 *
 * - g-ro permits reads only.
 * - g-held permits reads; anything else is held for the `approvers` group (the admin denies it).
 * - g-tables permits reads and plain writes (not "unknown") but forbids any statement whose
 *   tables include `secrets`, as a policy author writes it: the bare table name.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("reads")
permit (principal, action == Gatehouse::Action::"read", resource)
when { ["g-ro", "g-held"].contains(resource.name) && context.request.kind == "read" };

@id("held-rest")
@hold("approvers")
permit (principal, action, resource)
when { resource.name == "g-held" && context.request.kind != "read" };

@id("tables-reads-writes")
permit (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"write"], resource)
when { resource.name == "g-tables" && ["read", "write"].contains(context.request.kind) };

@id("no-secrets")
@reason("the secrets table is off limits")
forbid (principal, action, resource)
when { resource.name == "g-tables" && context.request.tables.contains("secrets") };
`;

const MEMBER = "guard@example.test";
const SECRET = "s3cr3t-launch-code";
const OTHER = "other-schema-value";
const tmpFile = () => `/tmp/gh-guard-${randomUUID()}`;

describe("PostgreSQL guardrails end to end", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let direct: postgres.Sql;
  let token = "";
  let adminToken = "";
  const files: string[] = [];
  const mcpClients: Client[] = [];

  const psql = (db: string, sql: string) => runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", "-c", sql]);
  const psqlScript = (db: string, script: string) => runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-v", "VERBOSITY=verbose", "-f", "-"], { stdin: script });
  /** what PostgreSQL itself holds in items: any write through the gateway would change it */
  const itemsState = async () => (await direct.unsafe("select id, note from items order by id")).map((r) => `${r.id}:${r.note}`).join(",");
  const dblinkConninfo = () => `host=127.0.0.1 port=${pg15.port} dbname=postgres user=postgres password=gatehouse-test`;

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse(), startPostgres15()]);
    direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    adminToken = await login(gh.url, gh.adminEmail, gh.adminPassword);
    expect((await apiCall(gh.url, adminToken, "POST", "/users", { email: MEMBER, password: "a-long-password-1", role: "member", groups: [] })).status).toBe(200);
    token = await login(gh.url, MEMBER, "a-long-password-1");
    for (const name of ["g-ro", "g-held", "g-tables"]) {
      const res = await apiCall(gh.url, adminToken, "POST", "/connections", { name, type: "postgres", upstream: `postgres://127.0.0.1:${pg15.port}/postgres`, username: "postgres", secret: "gatehouse-test" });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
    }
    const put = await apiCall(gh.url, adminToken, "PUT", "/policies", { text: POLICIES, comment: "guardrails" });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    await direct.unsafe(`
      create table items (id int primary key, note text);
      insert into items values (1, 'one'), (2, 'two'), (3, 'three');
      create table secrets (k text);
      insert into secrets values ('${SECRET}');
      create schema other;
      create table other.secrets (k text);
      insert into other.secrets values ('${OTHER}');
      create view secrets_v as select * from secrets;
      create materialized view secrets_mv as select k from secrets;
      create view secrets_count as select count(*) as n, max(k) as latest from public.secrets where k <> '';
      create function read_secrets() returns setof text language sql as 'select k from public.secrets';
      create role guard_low nologin;
      create extension dblink;`);
    // Controls: the same attacks directly on PostgreSQL do what the gateway must keep them from doing.
    const control = tmpFile();
    files.push(control);
    await direct.unsafe(`copy (select 1) to program 'touch ${control}'`);
    expect(fs.existsSync(control)).toBe(true);
    expect(await direct.unsafe(`select x from dblink('${dblinkConninfo()}', 'select 41 + 1') as t(x int)`)).toEqual([{ x: 42 }]);
  });
  afterAll(async () => {
    for (const f of files) fs.rmSync(f, { force: true });
    for (const c of mcpClients) await c.close().catch(() => {});
    await direct?.end();
    await teardown(gh, pg15);
  });

  /** Attacks on a write, a server file or a shell, with what PostgreSQL shows when one got through. */
  interface Attack {
    sql: string;
    /** fails when the attack had an effect upstream */
    unchanged: () => Promise<void>;
  }
  const itemsKept = (sql: string): Attack => ({
    sql,
    unchanged: async () => expect(await itemsState()).toBe("1:one,2:two,3:three"),
  });
  const noFile = (make: (f: string) => string): (() => Attack) => () => {
    const f = tmpFile();
    files.push(f);
    return { sql: make(f), unchanged: async () => expect(fs.existsSync(f), `${f} was created`).toBe(false) };
  };
  const ATTACKS: [string, () => Attack][] = [
    ["EXPLAIN ANALYZE of a DELETE", () => itemsKept("EXPLAIN ANALYZE DELETE FROM items")],
    ["EXPLAIN (ANALYZE) of an UPDATE", () => itemsKept("EXPLAIN (ANALYZE) UPDATE items SET note = 'pwned'")],
    ["EXPLAIN (ANALYZE true, FORMAT json) of a DELETE", () => itemsKept("explain (analyze true, format json) delete from items")],
    ["COPY TO PROGRAM", noFile((f) => `COPY items TO PROGRAM 'touch ${f}'`)],
    ["COPY of a query to a server file", noFile((f) => `COPY (select 1) TO '${f}'`)],
    ["dblink_exec running a DELETE", () => itemsKept(`SELECT dblink_exec('${dblinkConninfo()}', 'delete from items')`)],
    ["dblink running a DELETE ... RETURNING", () => itemsKept(`select * from dblink('${dblinkConninfo()}', 'delete from items returning id') as t(id int)`)],
    ["a comment between keywords", () => itemsKept("DELETE/**/FROM/**/items")],
    ["newlines, a line comment and a tab between tokens", () => itemsKept("delete\n-- nothing to see\nfrom\titems")],
    ["odd whitespace: a form feed and CRLF between tokens", () => itemsKept("delete\ffrom\r\nitems")],
    ["mixed case and a quoted name", () => itemsKept(`DeLeTe FrOm "items"`)],
    ["a unicode-escape identifier", () => itemsKept(`delete from U&"it\\0065ms"`)],
    ["a schema-qualified quoted name after a leading comment", () => itemsKept(`/* report */ delete from "public"."items"`)],
    ["a data-modifying CTE", () => itemsKept("with d as (delete from items returning id) select count(*) from d")],
    ["a read followed by a write in one Query", () => itemsKept("select 1; delete from items")],
    ["unparseable input before a DELETE", () => itemsKept("SELEC 1; DELETE FROM items")],
    ["a DO block that writes", () => itemsKept("DO $$ BEGIN DELETE FROM items; END $$")],
    ["a DO block building SQL at run time", () => itemsKept(`DO $$ BEGIN EXECUTE 'DEL' || 'ETE FROM items'; END $$`)],
    ["PREPARE of a DELETE, then EXECUTE", () => itemsKept("prepare p as delete from items; execute p")],
  ];

  describe("refused on a read-only connection (42501), nothing happens upstream", () => {
    it.each(ATTACKS)("%s", async (_what, make) => {
      const attack = make();
      const r = await psql("g-ro", attack.sql);
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).toMatch(/gatehouse: no policy permits (write|admin|ddl) on g-ro/);
      await attack.unchanged();
    });

    it("unparseable input fails closed: asked as a write of kind unknown, even with only a read after it", async () => {
      const r = await psql("g-ro", "SELEC 1; select 2");
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).toContain("no policy permits write on g-ro");
      const sim = await apiCall(gh.url, adminToken, "POST", "/policies/simulate", { principal: MEMBER, connection: "g-ro", statement: "SELEC 1; DELETE FROM items" });
      expect(sim.status, JSON.stringify(sim.body)).toBe(200);
      expect(sim.body.simulation.verdict.type).toBe("deny");
    });

    it.each([
      ["set_config('role', ...)", "select set_config('role', 'guard_low', false);\nselect current_user;\n"],
      ["set_config('session_authorization', ...)", "select set_config('session_authorization', 'guard_low', false);\nselect current_user;\n"],
      ["SET ROLE", "set role guard_low;\nselect current_user;\n"],
      ["set_config of the role through a Bind-free CTE", "with s as (select set_config('role', 'guard_low', false) as v) select v from s;\nselect current_user;\n"],
    ])("%s is refused and the session keeps its role", async (_what, script) => {
      const r = await psqlScript("g-ro", script);
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).toContain("no policy permits admin on g-ro");
      expect(r.stdout.trim().split("\n").at(-1)).toBe("postgres");
    });

    it("the extended protocol (postgres.js): a write inside EXPLAIN ANALYZE is refused with 42501", async () => {
      const { sql } = gatewayClient(gh.ports.postgres, { user: MEMBER, password: token, database: "g-ro" });
      try {
        const err = await sql.unsafe("explain analyze delete from items where id > $1", [0]).then(() => null, (e) => e);
        expect(err?.code).toBe("42501");
        const err2 = await sql.unsafe("select dblink_exec($1, $2)", [dblinkConninfo(), "delete from items"]).then(() => null, (e) => e);
        expect(err2?.code).toBe("42501");
        // the session stays usable: a read goes through
        expect((await sql.unsafe("select count(*)::int as n from items"))[0].n).toBe(3);
      } finally {
        await sql.end({ timeout: 1 });
      }
      expect(await itemsState()).toBe("1:one,2:two,3:three");
    });
  });

  describe("held on a connection that holds writes; an approver denies; nothing happens upstream", () => {
    it.each(ATTACKS)("%s", async (_what, make) => {
      const attack = make();
      const run = psql("g-held", attack.sql);
      // A conninfo with a password is withheld from the text an approver sees: match what comes before it.
      const shown = attack.sql.split("'host=")[0];
      const held = await heldApproval(gh, adminToken, (a) => typeof a.request?.text === "string" && a.request.text.startsWith(shown));
      expect(held.request.text).not.toContain("gatehouse-test");
      // nothing ran while it was held
      await attack.unchanged();
      const denied = await apiCall(gh.url, adminToken, "POST", `/approvals/${held.id}/deny`, { comment: "guardrail test" });
      expect(denied.status, JSON.stringify(denied.body)).toBe(200);
      const r = await run;
      expect(r.out).toMatch(/held for approval #\d+/);
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).toMatch(/denied by approver: approval #\d+ was denied by admin@example\.test: guardrail test/);
      await attack.unchanged();
    });
  });

  describe("a table policy cannot be dodged by spelling the table differently", () => {
    const refused = async (sql: string, via = "psql") => {
      const r = via === "script" ? await psqlScript("g-tables", sql) : await psql("g-tables", sql);
      expect(r.out, sql).toContain("ERROR:  42501");
      expect(r.out, sql).not.toContain(SECRET);
      return r;
    };

    it("a read of another table is allowed (the policy is not refusing everything)", async () => {
      const r = await psql("g-tables", "select note from items where id = 1");
      expect(r.code, r.out).toBe(0);
      expect(r.out.trim()).toBe("one");
    });

    it.each([
      "select * from secrets",
      "select * from public.secrets",
      `select * from "secrets"`,
      `select * from public."secrets"`,
      `select * from "public"."secrets"`,
      `select * from U&"secr\\0065ts"`,
      "SELECT * FROM SECRETS",
      "TABLE secrets",
      "table public.secrets",
      "select * from ONLY secrets",
      "select * from only public.secrets",
      "select k from/**/secrets",
      "with s as (select * from secrets) select * from s",
      "with secrets as (select * from public.secrets) select * from secrets",
      "select (select k from public.secrets limit 1)",
      "select 1 where exists (select 1 from secrets where k like 's%')",
      "select * from items join secrets on true",
      "select * from items union all select 0, k from public.secrets",
      "copy secrets to stdout",
      "copy (select * from public.secrets) to stdout",
      "delete from public.secrets",
      "prepare q as select * from public.secrets; execute q",
      "select * from secrets_v",
      "select * from secrets_count",
      "select * from public.secrets_v",
      "select * from secrets_mv",
    ])("%s is refused", async (sql) => {
      const r = await refused(sql);
      expect(r.out, sql).toContain("gatehouse: the secrets table is off limits");
      expect((await direct.unsafe("select count(*)::int as n from public.secrets"))[0].n).toBe(1);
    });

    it("the policy simulator answers as the gateway decides: a view over secrets is denied, its tables completed from the catalog", async () => {
      const sim = await apiCall(gh.url, adminToken, "POST", "/policies/simulate", { principal: MEMBER, connection: "g-tables", statement: "select * from secrets_v" });
      expect(sim.status, JSON.stringify(sim.body)).toBe(200);
      expect(sim.body.simulation.verdict.type).toBe("deny");
      const items = await apiCall(gh.url, adminToken, "POST", "/policies/simulate", { principal: MEMBER, connection: "g-tables", statement: "select * from public.items" });
      expect(items.body.simulation.verdict.type).toBe("allow");
    });

    it("an SQL function reading secrets is refused (code written in the database is unknown, which the policy does not permit)", async () => {
      const r = await refused("select * from read_secrets()");
      expect(r.out).toContain("no policy permits write on g-tables");
    });

    it("PREPARE in one Query, EXECUTE in the next: the EXECUTE is decided with the prepared statement's tables", async () => {
      const r = await psqlScript("g-tables", "prepare q2 as select k from items, public.secrets;\nexecute q2;\n");
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).not.toContain(SECRET);
    });

    it("the extended protocol (postgres.js, named prepared statements) is refused", async () => {
      const { sql } = gatewayClient(gh.ports.postgres, { user: MEMBER, password: token, database: "g-tables" });
      try {
        for (const text of ["select * from public.secrets where k <> $1", `select * from "secrets" where k <> $1`, "select * from secrets_v where k <> $1"]) {
          const err = await sql.unsafe(text, [""], { prepare: true }).then((rows) => rows, (e) => e);
          expect(err?.code, `${text}: ${JSON.stringify(err)}`).toBe("42501");
        }
        expect((await sql.unsafe("select note from items where id = $1", [2], { prepare: true }))[0].note).toBe("two");
      } finally {
        await sql.end({ timeout: 1 });
      }
    });

    it("run_sql over MCP takes the same path: a qualified name and a view are refused, another table is read", async () => {
      for (const sql of ["select * from public.secrets", "select * from secrets_v"]) {
        const r = await mcpRunSql(gh, token, mcpClients, "g-tables", sql);
        expect(r.isError, resultText(r)).toBe(true);
        expect(resultText(r)).toContain("the secrets table is off limits");
        expect(resultText(r)).not.toContain(SECRET);
      }
      const ok = await mcpRunSql(gh, token, mcpClients, "g-tables", "select note from public.items where id = 3");
      expect(ok.isError, resultText(ok)).toBeFalsy();
      expect(resultText(ok)).toContain("three");
    });

    it("search_path: an unqualified name is refused whichever schema it resolves to", async () => {
      // The gateway cannot know the session's search_path: `secrets` may mean public.secrets or
      // other.secrets. Both are refused (a superset); neither value is shown.
      const r = await psqlScript("g-tables", "set search_path = other, public;\nselect * from secrets;\nset search_path = public;\nselect * from secrets;\n");
      expect(r.out.match(/ERROR: {2}42501/g)).toHaveLength(2);
      expect(r.out).not.toContain(OTHER);
      expect(r.out).not.toContain(SECRET);
    });

    it("a table named secrets in another schema, written qualified: refused too (a bare name in a policy means every schema's)", async () => {
      const r = await psql("g-tables", "select * from other.secrets");
      expect(r.out).toContain("ERROR:  42501");
      expect(r.out).not.toContain(OTHER);
    });
  });
});
