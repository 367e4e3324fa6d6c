import pg from "pg";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build } from "@/lib/gateway/protocols/postgres/wire";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { rawPgSession } from "../support/pg-wire-session";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { addConnection, addUser, pgUpstream, putPolicies } from "../support/api-fixture";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * SECURITY.md "Masking bypass" and "Policy and guardrail bypass (SQL)": bypasses found by trying
 * them for real (psql, node-postgres and postgres-js through a real Gatehouse to a real
 * PostgreSQL 15). Each test failed before its fix.
 *
 * The masked column is accounts.password_hash, masked whole by the shipped "pii" rule set's
 * column rule `*.password*`. Its values look like nothing a detector knows, so a value that
 * loses its column lineage reaches the client as it is: exactly what these tests look for.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("read-masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource);

@id("changes-approval")
@hold("approvers")
permit (principal, action, resource)
when { ["write", "ddl", "admin", "unknown"].contains(context.request.kind) }
unless { resource.name == "hunt-approved" };

@id("approved-masked")
@mask("pii")
permit (principal, action, resource)
when { resource.name == "hunt-approved" };

@id("read-only-connection")
@reason("hunt-ro is read-only")
forbid (principal, action, resource)
when { resource.name == "hunt-ro" && context.request.kind != "read" };
`;

const MEMBER = "hunter@example.test";
const SECRETS = ["pbkdf2$Zq9xK7mWvT", "argon2$Lr4pN8sYhQ"];
const reversed = (s: string) => [...s].reverse().join("");


describe("PostgreSQL bypass hunt", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";

  const psql = (sql: string, db = "hunt-masked") => runPsql(gatewayConninfo(gh.ports.postgres, db, MEMBER), token, ["-A", "-t", "-c", sql]);
  const expectNoSecret = (out: string, what: string) => {
    for (const s of SECRETS) {
      expect(out.includes(s), `${what} leaked ${s}`).toBe(false);
      expect(out.includes(reversed(s)), `${what} leaked reversed ${s}`).toBe(false);
    }
  };
  /** Runs through psql; the query must succeed and print something. */
  async function masked(sql: string): Promise<string> {
    const r = await psql(sql);
    expect(r.stderr, sql).toBe("");
    expect(r.code, sql).toBe(0);
    expect(r.stdout.length, sql).toBeGreaterThan(0);
    expectNoSecret(r.stdout, sql);
    return r.stdout;
  }

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    for (const name of ["hunt-masked", "hunt-ro", "hunt-approved"]) {
      await addConnection(gh, admin, name, { ...pgUpstream(pg15), tags: ["staging"] });
    }
    await putPolicies(gh, admin, POLICIES, "bypass hunt");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe(`create table accounts (id int primary key, login text, password_hash text);
      create table events (id int, tags text[]);
      create index events_brin on events using brin (id);
      create index events_gin on events using gin (tags) with (fastupdate = on);
      insert into events select g, array['t' || g] from generate_series(1, 1000) g;
      create function open_hashes() returns refcursor language plpgsql as $$
        declare c refcursor := 'fn_cursor';
        begin open c for select login, reverse(password_hash) as r from accounts order by id; return c; end $$;
      create view acct_v as select id, login, password_hash as secret from accounts;
      create view acct_cols (l, pw) as select login, password_hash from accounts;
      create view acct_vv as select id, upper(secret) as shout from acct_v;
      create view acct_rows as select id, row_to_json(a)::text as doc from accounts a;
      create materialized view acct_mv as select id, password_hash as h from accounts;
      create schema vault;
      create view vault.keys as select id, secret as k from public.acct_v;
      create table public.keys (id int, k text);
      insert into public.keys values (1, 'a harmless decoy');
      create view "CustView" ("PW") as select password_hash from accounts;
      create table "Acc" as select * from accounts where false;`);
    for (const [i, s] of SECRETS.entries()) await direct`insert into accounts values (${i + 1}, ${`user${i + 1}`}, ${s})`;
    await direct`refresh materialized view acct_mv`;
    await direct`insert into "Acc" select * from accounts`;
    await direct.end();
  });
  afterAll(async () => {
    await teardown(gh, pg15);
  });

  it("the masked column is masked plainly and through a transformation (the baseline these tests build on)", async () => {
    expect(await masked("select password_hash from accounts order by id")).toContain("[REDACTED]");
    expect(await masked("select reverse(password_hash) from accounts order by id")).toContain("[REDACTED]");
  });

  it.each([
    ["a SHOW before the SELECT", "show server_version; select reverse(password_hash) from accounts"],
    ["an EXPLAIN before the SELECT", "explain select 1; select reverse(password_hash) from accounts"],
    ["a PREPARE before the SELECT", "prepare hunt_p1 as select 1; select reverse(password_hash) from accounts"],
    ["a DECLARE before the SELECT", "begin; declare hunt_c0 cursor for select 1; select reverse(password_hash) from accounts; commit"],
    ["a COPY before the SELECT", "copy (select 1) to stdout; select reverse(password_hash) from accounts"],
    ["two COPYs", "copy (select 1) to stdout; copy (select reverse(password_hash) from accounts) to stdout"],
  ])("multi-statement Query: %s does not shift lineage off the masked result", async (_what, sql) => {
    await masked(sql);
  });

  it.each([
    ["a set-returning function in FROM", "select x from unnest(array(select password_hash from accounts)) as x"],
    ["ROWS FROM", "select * from rows from (reverse((select password_hash from accounts order by id limit 1)))"],
    ["a LATERAL function", "select x from accounts a, lateral regexp_split_to_table(reverse(a.password_hash), '@') x"],
    ["XMLTABLE", "select * from xmltable('/r' passing xmlelement(name r, (select reverse(password_hash) from accounts order by id limit 1)) columns v text path '.')"],
    ["a schema-qualified column reference", "select reverse(public.accounts.password_hash) from accounts"],
    ["a FULL JOIN USING merged column under *", "select * from accounts full join (select null::text as password_hash) o using (password_hash)"],
    ["a recursive CTE that swaps columns", "with recursive r(n, a, b) as (select 0, password_hash, ''::text from accounts union all select n + 1, b, a from r where n < 1) select reverse(b) from r"],
  ])("lineage through %s", async (_what, sql) => {
    await masked(sql);
  });

  const pgClient = (database = "hunt-masked") => new pg.Client({ host: "127.0.0.1", port: gh.ports.postgres, database, user: MEMBER, password: token, ssl: false });

  /** A raw wire-protocol client: for a Bind of a statement that only SQL PREPARE defined. */
  const rawSession = () => rawPgSession(gh.ports.postgres, { user: MEMBER, database: "hunt-masked", password: token });


  it.each([
    ["a view renaming the column", "select secret from acct_v order by id"],
    ["a view's star", "select * from acct_v order by id"],
    ["a transformation of a view's column", "select reverse(secret) from acct_v"],
    ["a view's column list", "select pw from acct_cols"],
    ["a view over a view", "select shout from acct_vv"],
    ["a view over a view, transformed", "select lower(shout) from acct_vv"],
    ["a view of whole rows", "select doc from acct_rows"],
    ["a whole row of a view", "select row_to_json(v) from acct_v v"],
    ["a materialized view", "select h from acct_mv"],
    ["a view in another schema over a view", "select k from vault.keys"],
    ["a view joined with its table", "select a.login, v.secret from accounts a join acct_v v using (id)"],
    ["a quoted, mixed-case view and column", 'select "PW" from "CustView"'],
    ["a transformation of a quoted, mixed-case view's column", 'select lower("PW") from "CustView"'],
    ["a whole row of a quoted, mixed-case table", 'select row_to_json(a) from "Acc" a'],
    ["an unqualified view found through the client's own search_path", "set search_path = vault, public; select lower(k) from keys"],
  ])("views carry their columns' masking: %s", async (_what, sql) => {
    expect(await masked(sql)).toContain("[REDACTED]");
  });

  it("a cursor: FETCH in a later Query of a DECLAREd transformation stays masked", async () => {
    const client = pgClient();
    await client.connect();
    try {
      await client.query("begin");
      await client.query("declare hunt_c1 cursor for select reverse(password_hash) as r from accounts");
      const rows = (await client.query("fetch all from hunt_c1")).rows;
      await client.query("commit");
      expect(rows).toHaveLength(2);
      expectNoSecret(JSON.stringify(rows), "fetch all from hunt_c1");
    } finally {
      await client.end();
    }
  });

  it("a cursor opened inside a function: the function is refused under masking (it is code written in the database)", async () => {
    // Before functions were refused, the FETCH withheld what had no table origin; the function
    // that opens the cursor does not run any more (postgres-followups.test.ts). A function call is
    // "unknown" (held here): hunt-approved permits it under masking, as an approved hold would.
    for (const mode of ["simple", "extended"] as const) {
      const client = pgClient("hunt-approved");
      await client.connect();
      try {
        await client.query("begin");
        const err = await (mode === "simple" ? client.query("select open_hashes()") : client.query({ text: "select open_hashes()", values: [], queryMode: "extended" } as never)).then(() => null, (e: { code?: string }) => e);
        expect(err?.code, mode).toBe("0A000");
        await client.query("rollback");
      } finally {
        await client.end();
      }
    }
  });

  it("node-postgres: SQL EXECUTE through the extended protocol of a statement PREPAREd by a simple query", async () => {
    const client = pgClient();
    await client.connect();
    try {
      await client.query("prepare hunt_p2 as select reverse(password_hash) as r from accounts");
      const rows = (await client.query({ text: "execute hunt_p2", queryMode: "extended" } as pg.QueryConfig)).rows;
      expect(rows).toHaveLength(2);
      expectNoSecret(JSON.stringify(rows), "execute hunt_p2");
    } finally {
      await client.end();
    }
  });

  it("a Bind by name of a statement PREPAREd in a multi-statement Query", async () => {
    const raw = await rawSession();
    try {
      raw.write(build.query("select 1; prepare hunt_p3 as select reverse(password_hash) as r from accounts"));
      await raw.ready();
      raw.write(build.bind({ statement: "hunt_p3" }), build.describe("P", ""), build.execute(), build.sync());
      const out = await raw.ready();
      const rows = out.filter((m) => m.type === "DataRow");
      expect(rows).toHaveLength(2);
      expectNoSecret(JSON.stringify(rows.map((m) => m.values.map((v: Buffer | null) => v?.toString()))), "bind hunt_p3");
    } finally {
      raw.end();
    }
  });

  it.each([
    ["brin_summarize_new_values", "select brin_summarize_new_values('events_brin')"],
    ["brin_summarize_range", "select brin_summarize_range('events_brin', 0)"],
    ["brin_desummarize_range", "select brin_desummarize_range('events_brin', 0)"],
    ["gin_clean_pending_list", "select gin_clean_pending_list('events_gin')"],
  ])("%s changes an index from a SELECT: not a read on a read-only connection", async (_name, sql) => {
    const r = await psql(sql, "hunt-ro");
    expect(r.code, r.stdout).not.toBe(0);
    expect(r.stderr).toContain("hunt-ro is read-only");
  });
});
