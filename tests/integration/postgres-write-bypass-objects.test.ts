import fc from "fast-check";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeFrontend, type BackendMessage, type FrontendMessage } from "@/lib/gateway/protocols/postgres/wire";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";
import { addConnection, addUser, pgUpstream, putPolicies } from "../support/api-fixture";
import { outcomeOf, READ_ONLY_POLICIES } from "../support/write-bypass";
import { bind, describeMsg, execute, parse, q, SYNC, WireClient } from "../support/pg-wire-client";

/**
 * The write-bypass property (postgres-write-bypass-property.test.ts) over more kinds of objects a
 * superuser created: arrays, composites and ranges over a domain whose CHECK calls nextval, views
 * over a built-in writer in FROM / ROWS FROM / LATERAL / a window, a user aggregate whose final
 * function is a built-in writer, a table turned into a view by an ON SELECT rule, a hash operator
 * class whose support function is lo_unlink (on an index of a table a read scans), built-ins
 * a superuser replaced in place (CREATE OR REPLACE keeps their OIDs below 16384) or renamed, and
 * SQL functions taken for an extension's (made members of hstore, or hstore's own replaced), and
 * argument defaults that write (a built-in's, an extension C function's). Same fixture:
 * connection `wp-obj` permits only `connect` and `read`; whatever the gateway allows or refuses,
 * a direct superuser connection must see the database unchanged. Its own database, so replaced
 * built-ins do not reach the other file's runs. GH_WRITE_PROP_RUNS, GH_WRITE_PROP_SEED as there.
 */

const RUNS = Number(process.env.GH_WRITE_PROP_RUNS ?? 100);
const MEMBER = "writer-hunt-objects@example.test";
const DB = "wp-obj";

const SETUP = `
create table accounts (id int primary key, owner text not null, balance int not null);
insert into accounts values (1, 'ann', 100), (2, 'bob', 200), (3, 'cy', 300);
create sequence s_main;
create sequence s_dom;
create domain posdom as int check (value > 0 and nextval('s_dom') > 0);
-- a table column, a composite attribute and a range over the domain
create table t_dom (id int, d posdom);
insert into t_dom values (1, 5);
create type comp as (a posdom);
create table t_comp (c comp);
insert into t_comp values (row(5));
create type posrange as range (subtype = posdom);
-- views over a built-in writer in FROM, ROWS FROM, LATERAL, a window
create view v_from as select * from nextval('s_main') n;
create view v_rowsfrom as select * from rows from (nextval('s_main'), generate_series(1, 1)) r(a, b);
create view v_lateral as select a.id, l.n from accounts a cross join lateral (select setval('s_main', 100 + a.id) n) l;
create view v_window as select id, sum(nextval('s_main')) over () as w from accounts;
-- a user aggregate whose final function is a built-in writer, and a view over it
create aggregate agg_lock(bigint) (sfunc = int8larger, stype = bigint, finalfunc = pg_try_advisory_lock);
create view v_agg as select agg_lock(id::bigint) as l from accounts;
-- a table turned into a view by an ON SELECT rule (PostgreSQL 15 still allows it)
create table v_ruled (n bigint);
create rule "_RETURN" as on select to v_ruled do instead select nextval('s_main') as n;
-- a hash operator class whose support function is lo_unlink: an index scan hashes its key with it
create operator class oid_lo_ops for type oid using hash as operator 1 = (oid, oid), function 1 lo_unlink(oid);
create table t_oid (o oid);
create index t_oid_lo on t_oid using hash (o oid_lo_ops);
select lo_from_bytea(4242, '\\x01');
-- built-ins replaced in place by a superuser: their OIDs stay those initdb gave them
create or replace function pg_catalog.initcap(text) returns text language sql as $$ select nextval('public.s_main')::text $$;
create or replace function information_schema._pg_char_octet_length(typid oid, typmod integer) returns integer language sql as $$ select nextval('public.s_main')::int $$;
create or replace view information_schema.information_schema_catalog_name as
  select current_database()::information_schema.sql_identifier as catalog_name, nextval('public.s_main') as gh_n;
-- ...in PL/pgSQL, as a parsed SQL body (BEGIN ATOMIC) that writes or calls a writer, and a writer
-- renamed. (A C built-in replaced keeps running its C code, found by OID, unless the planner
-- inlines a SQL body: to_ascii's here. PostgreSQL's own SQL functions run what pg_proc says.)
create table t_log (n int);
create or replace function information_schema._pg_numeric_scale(typid oid, typmod integer) returns integer language plpgsql as $$ begin perform nextval('public.s_main'); return 1; end $$;
create or replace function pg_catalog.lpad(text, integer) returns text begin atomic insert into public.t_log values (1); select 'x'; end;
create or replace function pg_catalog.to_ascii(text) returns text begin atomic select nextval('public.s_main')::text; end;
alter function pg_catalog.lo_create(oid) rename to gh_lo_create;
-- ...and a built-in aggregate given a writing transition function (CREATE OR REPLACE AGGREGATE)
create function public.gh_or_sf(int4, int4) returns int4 language plpgsql as $$ begin perform nextval('public.s_main'); return $1 | $2; end $$;
create or replace aggregate pg_catalog.bit_or(int4) (sfunc = public.gh_or_sf, stype = int4);
-- a view converting to the domain (its CHECK runs though no column has its type), and a built-in
-- whose parsed body reads a system view replaced to call nextval
create view v_domcast as select id, ((id)::posdom)::int as z from accounts;
create or replace view pg_catalog.pg_timezone_abbrevs as select abbrev, utc_offset, is_dst, nextval('public.s_main') as gh_n
  from pg_catalog.pg_timezone_abbrevs() pg_timezone_abbrevs(abbrev, utc_offset, is_dst);
create or replace function pg_catalog.pg_sleep_for(interval) returns void language sql parallel safe strict
  begin atomic select pg_catalog.pg_sleep(0) from (select count(*) from pg_catalog.pg_timezone_abbrevs) x; end;
-- operators whose negator writes (NOT (a === b) runs it) or whose selectivity estimator takes an advisory lock (at plan time)
create function public.gh_neq(int4, int4) returns bool language plpgsql as $$ begin perform nextval('public.s_main'); return $1 <> $2; end $$;
create operator public.!== (leftarg = int4, rightarg = int4, procedure = public.gh_neq);
create operator public.=== (leftarg = int4, rightarg = int4, procedure = int4eq, negator = operator(public.!==));
create function public.gh_rest(internal, oid, internal, int4) returns float8 language internal strict as 'pg_advisory_lock_int8';
create operator public.==== (leftarg = int4, rightarg = int4, procedure = int4eq, restrict = public.gh_rest);
-- SQL functions an extension is taken to own: users' made members (ALTER EXTENSION ... ADD), with
-- a text body, a parsed body, or one calling a user's writer; and an extension's own replaced in SQL
create extension hstore;
create function public.gh_member_sql() returns bigint language sql as $$ select nextval('public.s_main') $$;
create function public.gh_member_atomic() returns bigint begin atomic insert into public.t_log values (2); select 1::bigint; end;
create function public.gh_member_calls() returns int4 language sql as $$ select public.gh_or_sf(1, 2) $$;
alter extension hstore add function public.gh_member_sql();
alter extension hstore add function public.gh_member_atomic();
alter extension hstore add function public.gh_member_calls();
create or replace function public.akeys(hstore) returns text[] language sql as $$ select array[nextval('public.s_main')::text] $$;
-- an aggregate whose final function writes and a view calling a writer, made members; a member reading that view
create aggregate public.gh_mk_lo(int4) (sfunc = int4larger, stype = int4, finalfunc = lo_creat);
alter extension hstore add aggregate public.gh_mk_lo(int4);
create view public.gh_ext_v as select nextval('public.s_main') as n;
alter extension hstore add view public.gh_ext_v;
create function public.gh_read_ext_v() returns bigint language sql as 'select n from public.gh_ext_v';
alter extension hstore add function public.gh_read_ext_v();
-- argument defaults that write, given to a built-in and to an extension's C function: a call leaving the argument out runs them
create or replace function pg_catalog.sha224(bytea default lo_from_bytea(0, ''::bytea)::text::bytea) returns bytea language internal immutable strict parallel safe as 'sha224_bytea';
create or replace function public.defined(hstore, text default lo_from_bytea(0, ''::bytea)::text) returns bool language c immutable strict parallel safe as '$libdir/hstore', 'hstore_defined';
-- the catalog's regular expressions must not depend on the database's string settings
alter database wp_objects set standard_conforming_strings = off;
`;

/** Expressions that change the database when evaluated, through the objects above. */
const WRITERS = [
  "('{1}'::posdom[])",
  "(array[2]::posdom[])",
  "(row(3)::comp)",
  "(json_populate_record(null::comp, '{\"a\": 1}'))",
  "(jsonb_populate_record(null::t_dom, '{\"d\": 1}'))",
  "('[1,3)'::posrange)",
  "(posrange(1, 4))",
  "(select n from v_from)",
  "(select a from v_rowsfrom)",
  "(select max(n) from v_lateral)",
  "(select max(w) from v_window)",
  "(select l from v_agg)",
  "(select agg_lock(7::bigint))",
  "(select n from v_ruled)",
  "(select count(*) from t_oid where o = 4242)",
  "(select (jsonb_populate_record(t, '{\"d\": 6}')).d from t_dom t)",
  "(select (json_populate_record(c, '{\"a\": 6}')).a from t_comp)",
  "initcap('x')",
  "pg_catalog.initcap('x')",
  "information_schema._pg_char_octet_length(0, 0)",
  "(select gh_n from information_schema.information_schema_catalog_name)",
  "information_schema._pg_numeric_scale(0, 0)",
  "lpad('x', 1)",
  "to_ascii('x')",
  "gh_lo_create(0)",
  "(select bit_or(id) from accounts)",
  "(select max(z) from v_domcast)",
  "(select pg_sleep_for('1 ms'))",
  "(select count(*) from accounts where not (id === 2))",
  "(select count(*) from accounts where id ==== 2)",
  "gh_member_sql()",
  "gh_member_atomic()",
  "gh_member_calls()",
  "akeys('a=>1')",
  "sha224()",
  "defined('a=>1')",
  "(select gh_mk_lo(-1))",
  "gh_read_ext_v()",
];

/** Expressions that only read, over the same objects. */
const READERS = ["1", "(select d::text from t_dom)", "(select count(*) from t_comp)", "(select count(*) from t_dom)", "(select c::text from t_comp)", "lower('X')"];

const CONTEXTS = [
  "SELECT {E}",
  "SELECT * FROM accounts WHERE ({E}) IS NOT NULL",
  "SELECT (SELECT {E})",
  "WITH c AS MATERIALIZED (SELECT {E} AS v) SELECT 1 FROM c",
  "SELECT a.id FROM accounts a JOIN LATERAL (SELECT {E} AS v) l ON true",
  "EXPLAIN ANALYZE SELECT {E}",
  "COPY (SELECT {E}) TO STDOUT",
  "PREPARE wo_p AS SELECT {E}; EXECUTE wo_p",
  "BEGIN; SELECT {E}; COMMIT",
];

type Mode = "simple" | "unnamed";
interface Step {
  sql: string;
  mode: Mode;
}

const arbExpr = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...WRITERS) }, { weight: 1, arbitrary: fc.constantFrom(...READERS) });
const arbStep: fc.Arbitrary<Step> = fc
  .tuple(fc.constantFrom(...CONTEXTS), arbExpr, fc.constantFrom<Mode>("simple", "simple", "unnamed"))
  .map(([ctx, e, mode]) => ({ sql: ctx.replaceAll("{E}", e), mode }));
const arbRun = fc.array(arbStep, { minLength: 1, maxLength: 2 });

/**
 * Bypasses found, fixed (regressions below):
 * - a domain's CHECK reached through a row a read selects (json[b]_populate_record(t, ...) over a
 *   table whose column, or composite attribute, is of the domain): the type is never named
 *   (user-code.ts `populates`: such a statement's relations are looked up as a write's);
 * - a range type over the domain (`'[1,3)'::posrange`): range_in checks each bound against the
 *   subtype's CHECK (user-code-queries.ts typeChain follows a range to its subtype).
 */
const BYPASSES = [
  "SELECT jsonb_populate_record(t, '{\"d\": 6}') FROM t_dom t",
  "SELECT json_populate_record(c, '{\"a\": 6}') FROM t_comp",
  "SELECT '[1,3)'::posrange",
  "SELECT cast('[2,5)' as posrange)",
  // built-ins a superuser replaced in place: their OIDs stay below 16384 (user-code-queries.ts ALTERED_BUILTINS)
  "SELECT initcap('x')",
  "SELECT information_schema._pg_char_octet_length(0, 0)",
  "SELECT * FROM information_schema.information_schema_catalog_name",
  "SELECT information_schema._pg_numeric_scale(0, 0)",
  "SELECT lpad('x', 1)",
  "SELECT to_ascii('x')",
  "SELECT gh_lo_create(0)",
  "SELECT bit_or(id) FROM accounts",
  "SELECT * FROM v_domcast",
  "SELECT pg_sleep_for('1 ms')",
  "SELECT * FROM accounts WHERE NOT (id === 2)",
  "SELECT * FROM accounts WHERE id ==== 2",
  // extensions' SQL functions (extension-bodies.ts)
  "SELECT gh_member_sql()",
  "SELECT gh_member_atomic()",
  "SELECT gh_member_calls()",
  "SELECT akeys('a=>1')",
  "SELECT sha224()",
  "SELECT defined('a=>1')",
  "SELECT gh_mk_lo(-1)",
  "SELECT gh_read_ext_v()",
];

describe("PostgreSQL gateway: no write passes a read-only policy through more kinds of objects (generative)", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let direct: postgres.Sql;
  let token = "";
  const outcomes = { refused: 0, error: 0, allowed: 0, closed: 0 };

  beforeAll(async () => {
    pg15 = await startPostgres15();
    gh = await startGatehouse({ demo: false, env: { DATABASE_URL: await createDatabase(pg15, "gatehouse_store") } });
    const url = await createDatabase(pg15, "wp_objects");
    direct = postgres(url, { max: 1, onnotice: () => {} });
    await direct.unsafe(SETUP);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, MEMBER);
    await addConnection(gh, admin, DB, { ...pgUpstream(pg15), upstream: `postgres://127.0.0.1:${pg15.port}/wp_objects`, tags: ["staging"] });
    await putPolicies(gh, admin, READ_ONLY_POLICIES, "write bypass objects");
  }, 120_000);

  afterAll(async () => {
    console.log(`[write-bypass-objects] outcomes ${JSON.stringify(outcomes)}`);
    await shared?.end();
    await direct?.end({ timeout: 1 });
    await teardown(gh, pg15);
  });

  async function fingerprint(): Promise<Record<string, unknown>> {
    const fp: Record<string, unknown> = {};
    for (const t of ["accounts", "t_dom", "t_comp", "t_oid", "t_log"]) fp[`rows ${t}`] = (await direct.unsafe(`select md5(coalesce(string_agg(x::text, '|' order by x::text), '')) as h from ${t} x`))[0]!.h;
    for (const s of ["s_main", "s_dom"]) fp[`seq ${s}`] = (await direct.unsafe(`select last_value, is_called from ${s}`))[0];
    const [o] = await direct`select
      (select count(*) from pg_largeobject_metadata)::int as large_objects,
      (select string_agg(format('%s/%s/%s', classid, objid, mode), ',' order by 1) from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())) as advisory_locks`;
    Object.assign(fp, o);
    return fp;
  }

  async function send(c: WireClient, msgs: FrontendMessage[]): Promise<BackendMessage[]> {
    c.msgs.splice(0);
    c.write(Buffer.concat(msgs.map(encodeFrontend)));
    if (!(await c.until(() => c.msgs.some((m) => m.type === "ReadyForQuery"), 10_000))) await c.end();
    return c.msgs.splice(0);
  }

  let shared: WireClient | null = null;
  async function session(): Promise<WireClient> {
    if (shared && !shared.closed) return shared;
    await shared?.end();
    const c = await WireClient.open(gh.ports.postgres);
    await c.loginGateway(token, { user: MEMBER, database: DB });
    expect(outcomeOf(c, await send(c, [q("SELECT 1")]))).toBe("allowed");
    return (shared = c);
  }

  /** A run in the shared gateway session; throws (with what happened) when the database changed. */
  async function check(steps: Step[]): Promise<void> {
    const c = await session();
    const before = await fingerprint();
    const log: string[] = [];
    for (const s of steps) {
      const got = s.mode === "simple" ? await send(c, [q(s.sql)]) : await send(c, [parse("", s.sql), bind("", ""), describeMsg("P", ""), execute(""), SYNC]);
      const o = outcomeOf(c, got);
      outcomes[o]++;
      const err = got.find((m) => m.type === "ErrorResponse") as { fields: { code: string; message: string } } | undefined;
      log.push(`${s.mode} ${JSON.stringify(s.sql)}: ${o}${err ? ` (${err.fields.code} ${err.fields.message})` : ""}`);
      if (c.closed) break;
    }
    if (!c.closed) await send(c, [q("COMMIT")]);
    const after = await fingerprint();
    if (!c.closed && outcomeOf(c, await send(c, [q("CLOSE ALL; DEALLOCATE ALL")])) !== "allowed") await c.end();
    const changed = Object.keys({ ...before, ...after }).filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
    if (changed.length) {
      await c.end(); // its session-level locks go with it
      throw new Error(`database changed through a read-only connection:\n${log.join("\n")}\nchanged: ${changed.map((k) => `${k}: ${JSON.stringify(before[k])} -> ${JSON.stringify(after[k])}`).join("\n")}`);
    }
  }

  async function untilNoAdvisoryLocks() {
    for (let i = 0; i < 100; i++) {
      if ((await direct`select count(*)::int as n from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())`)[0]!.n === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  // Not vacuous: every writer expression changes what the fingerprint sees when a superuser runs it
  // directly (the large object lo_unlink takes through the hash index is put back).
  it("sanity: each writer expression does write when a superuser runs it", async () => {
    for (const e of WRITERS) {
      const before = await fingerprint();
      await direct.unsafe(`select ${e}`);
      const after = await fingerprint();
      await direct`select pg_advisory_unlock_all()`;
      expect({ e, changed: JSON.stringify(after) !== JSON.stringify(before) }).toEqual({ e, changed: true });
      if ((await direct`select count(*)::int as n from pg_largeobject_metadata`)[0]!.n === 0) await direct`select lo_from_bytea(4242, '\\x01')`;
    }
  });

  for (const sql of BYPASSES) {
    it(`regression: ${sql} is refused through a read-only policy (or leaves the database as it was)`, async () => {
      await check([{ sql, mode: "simple" }]);
    });
  }


  it(
    `${RUNS} generated runs over more object kinds leave the database as it was`,
    async () => {
      await untilNoAdvisoryLocks();
      await fc.assert(
        fc.asyncProperty(arbRun, async (steps) => {
          await check(steps);
        }),
        { numRuns: RUNS, seed: process.env.GH_WRITE_PROP_SEED ? Number(process.env.GH_WRITE_PROP_SEED) : undefined },
      );
      expect(outcomes.refused).toBeGreaterThan(RUNS / 4);
    },
    Math.max(300_000, RUNS * 3_000),
  );
});
