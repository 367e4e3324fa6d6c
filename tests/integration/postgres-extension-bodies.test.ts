import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alteredExtensionFunctions } from "@/lib/gateway/protocols/postgres/extension-bodies";
import { alteredOidsQuery } from "@/lib/gateway/protocols/postgres/user-code-queries";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Extensions' SQL functions on a real PostgreSQL 15 with every contrib extension that has SQL
 * functions installed: which ones extension-bodies.ts takes for code written by users, before and
 * after a superuser makes users' functions members (`ALTER EXTENSION ... ADD FUNCTION`) or
 * replaces an extension's own. End to end through the gateway (a read-only policy, the database
 * unchanged): postgres-write-bypass-objects.test.ts.
 */

const CONTRIB = ["adminpack", "citext", "cube", "earthdistance", "hstore", "lo", "pageinspect", "pg_freespacemap", "xml2", "pg_trgm", "pgcrypto", "dblink", "tablefunc", "ltree"];

describe("PostgreSQL: extensions' SQL functions that do more than read are code written by users", () => {
  let pg15: Postgres15;
  let sql: postgres.Sql;

  beforeAll(async () => {
    pg15 = await startPostgres15();
    sql = postgres(await createDatabase(pg15, "extension_bodies"), { max: 1, onnotice: () => {} });
    for (const e of CONTRIB) await sql.unsafe(`create extension "${e}"`);
  }, 120_000);

  afterAll(async () => {
    await sql?.end({ timeout: 1 });
    await pg15?.stop();
  });

  /** The extension functions found, by signature. */
  const found = async (serverVersionNum = 150000, on: postgres.Sql = sql): Promise<string[]> => {
    const sql = on;
    const builtins = (await sql.unsafe<{ oids: string }[]>(alteredOidsQuery(serverVersionNum)))[0]!.oids;
    const oids = await alteredExtensionFunctions((text, params) => sql.unsafe(text, params as never[]), builtins, serverVersionNum);
    if (oids.length === 0) return [];
    return (await sql.unsafe<{ f: string }[]>(`select unnest('{${oids.join(",")}}'::oid[])::regprocedure::text as f order by 1`)).map((r) => r.f);
  };

  it("as the extensions ship them: only adminpack's pg_file_rename (it renames a server file), of 30 SQL functions", async () => {
    const [{ n }] = await sql.unsafe<{ n: number }[]>(`select count(*)::int as n from pg_proc p join pg_depend e on e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.deptype = 'e' where p.prolang = 14`);
    expect(n).toBeGreaterThanOrEqual(30);
    expect(await found()).toEqual(["pg_file_rename(text,text)"]);
    // before PostgreSQL 14 (no parsed bodies) the same: the query names no prosqlbody
    expect(await found(130000)).toEqual(["pg_file_rename(text,text)"]);
  });

  it("members users made and extensions' own functions replaced: each writer, reader of users' tables, caller of either and writing argument default is found; readers are not", async () => {
    await sql.unsafe(`
      create sequence s; create table secrets (ssn text);
      create function public.w_text() returns bigint language sql as $$ select nextval('s') $$;
      create function public.w_atomic() returns bigint begin atomic select nextval('s'); end;
      create function public.w_return() returns bigint return nextval('s');
      create function public.w_insert() returns int begin atomic insert into secrets values ('x'); select 1; end;
      create function public.leak() returns setof text language sql as 'select ssn from secrets';
      create function public.plw() returns void language plpgsql as $$ begin perform nextval('s'); end $$;
      create function public.calls_plw() returns void language sql as 'select public.plw()';
      create function public.calls_member() returns bigint language sql as 'select w_text()';
      create function public.reads() returns int return 1 + 1;
      create function public.reads_atomic() returns text begin atomic select 'a'; select lower('B'); end;
      create function public.reads_catalog() returns bigint language sql as 'select count(*) from pg_class';
    `);
    for (const f of ["w_text", "w_atomic", "w_return", "w_insert", "leak", "calls_plw", "calls_member", "reads", "reads_atomic", "reads_catalog"]) {
      await sql.unsafe(`alter extension hstore add function public.${f}()`);
    }
    // earthdistance's earth() replaced: everything calling it by name follows
    await sql.unsafe(`create or replace function public.earth() returns float8 language sql as $$ select nextval('s')::float8 $$`);
    // a C function given an argument default that writes (a call leaving it out runs it), and one given a default that reads
    await sql.unsafe(`create or replace function public.show_trgm(text default lo_create(0)::text) returns text[] language c immutable strict parallel safe as '$libdir/pg_trgm', 'show_trgm'`);
    await sql.unsafe(`create or replace function public.similarity(text, text default lower('x')) returns real language c immutable strict parallel safe as '$libdir/pg_trgm', 'similarity'`);
    expect(await found()).toEqual([
      "calls_member()",
      "calls_plw()",
      "earth()",
      "earth_box(earth,double precision)",
      "earth_distance(earth,earth)",
      "gc_to_sec(double precision)",
      "latitude(earth)",
      "leak()",
      "ll_to_earth(double precision,double precision)",
      // its argument is of earthdistance's domain earth, whose CHECK calls earth()
      "longitude(earth)",
      "pg_file_rename(text,text)",
      "sec_to_gc(double precision)",
      "show_trgm(text)",
      "w_atomic()",
      "w_insert()",
      "w_return()",
      "w_text()",
    ]);
  });
  // Found by a review against this file's first version: what a member runs without its body naming it.
  it("what members reach without naming it: aggregate support functions, signature types, views, domains' CHECKs, foreign tables, operators, PostgreSQL's value-copying views", async () => {
    const db = postgres(await createDatabase(pg15, "extension_reach"), { max: 1, onnotice: () => {} });
    try {
      await db.unsafe(`
        create extension hstore; create extension file_fdw;
        create sequence s; create table log (t text);
        -- an aggregate made a member, whose final function writes
        create aggregate mk_lo(int4) (sfunc = int4larger, stype = int4, finalfunc = lo_creat);
        alter extension hstore add aggregate mk_lo(int4);
        -- a view made a member, read by a member
        create view ext_v as select nextval('s') as n;
        alter extension hstore add view ext_v;
        create function read_ext_v() returns bigint language sql as 'select n from ext_v';
        -- a domain made a member whose CHECK writes, converted to in a body and in a default
        create domain ext_d as int check (lo_creat(-1) > 0);
        alter extension hstore add type ext_d;
        create function cast_ext_d(int) returns int language sql as 'select ($1::ext_d)::int';
        create function dflt_ext_d(a int default 5::ext_d) returns int language sql as 'select $1';
        -- a user's domain as the result type; a user's type reached through a user's implicit cast
        create domain user_d as int check (nextval('public.s') > 0);
        create function ret_user_d() returns user_d language sql as 'select 1';
        create type ut as (a int);
        create function to_ut(int) returns ut language plpgsql as $$ begin insert into log values ('cast'); return row($1)::ut; end $$;
        create cast (int as ut) with function to_ut(int) as implicit;
        create function takes_ut(ut) returns int language sql as 'select ($1).a';
        -- a user's operator backed by a built-in writer
        create operator !!! (rightarg = int4, function = lo_creat);
        create function opw() returns oid language sql as 'select !!! (-1)';
        -- a built-in domain given a writing CHECK
        alter domain information_schema.yes_or_no add constraint w check (lo_creat(-1) > 0);
        create function yn() returns text language sql as $$ select 'YES'::information_schema.yes_or_no::text $$;
        -- PostgreSQL's views whose values masking cannot follow
        create function col_stats(text, text) returns text language sql stable as 'select most_common_vals::text from pg_stats where tablename = $1 and attname = $2';
        create function others_sql() returns setof text language sql as 'select query from pg_stat_activity';
        -- a foreign table running a program, made a member
        create server fsrv foreign data wrapper file_fdw;
        create foreign table ext_ft (a text) server fsrv options (program 'echo 1');
        alter extension file_fdw add foreign table ext_ft;
        create function ft_read() returns text language sql as 'select a from ext_ft';
        -- readers
        create function reads_hstore(hstore) returns text[] language sql as 'select akeys($1)';
        create function reads_class() returns bigint language sql as 'select count(*) from pg_class';
      `);
      for (const f of ["read_ext_v()", "cast_ext_d(int)", "dflt_ext_d(int)", "ret_user_d()", "takes_ut(ut)", "opw()", "yn()", "col_stats(text, text)", "others_sql()", "ft_read()", "reads_hstore(hstore)", "reads_class()"]) {
        await db.unsafe(`alter extension hstore add function ${f}`);
      }
      expect(await found(150000, db)).toEqual([
        "cast_ext_d(integer)",
        "col_stats(text,text)",
        "dflt_ext_d(integer)",
        "ft_read()",
        "mk_lo(integer)",
        "opw()",
        "others_sql()",
        "read_ext_v()",
        "ret_user_d()",
        "takes_ut(ut)",
        "yn()",
      ]);
    } finally {
      await db.end({ timeout: 1 });
    }
  });
  // Found by a second review: what a member reaches through a type made of a type, a view over a
  // view, a child table, row-level security, a view reading users' data, another member found so,
  // and its own settings.
  it("what members reach through chains: domains over domains, arrays, composites, ranges, OUT columns, views over views, inheritance, RLS, found members, settings", async () => {
    const db = postgres(await createDatabase(pg15, "extension_chains"), { max: 1, onnotice: () => {} });
    try {
      await db.unsafe(`
        create extension hstore; create extension file_fdw;
        create table people (name text, ssn text);
        create domain d1 as int check (lo_creat(-1) > 0); alter extension hstore add type d1;
        create domain d2 as d1; alter extension hstore add type d2;
        create function s1_body(int) returns int language sql as 'select $1::d2::int';
        create function s2_sig(d1[]) returns int language sql as 'select 1';
        create type c3 as (a d1); alter extension hstore add type c3;
        create function s3_body(int) returns text language sql as 'select row($1)::c3::text';
        create type r4 as range (subtype = d1); alter extension hstore add type r4;
        create function s4_sig(r4) returns int language sql as 'select 1';
        create function s12(out x d1, out y int) language sql as 'select 5, 6';
        create view v5a as select lo_creat(-1) as x; create view v5b as select x from v5a;
        alter extension hstore add view v5a; alter extension hstore add view v5b;
        create function s5_body() returns oid language sql as 'select x from v5b';
        create table tp (a text); alter extension hstore add table tp;
        create server fsrv foreign data wrapper file_fdw;
        create foreign table ftc () inherits (tp) server fsrv options (program 'echo x');
        create function s10_body() returns bigint language sql as 'select count(*) from tp';
        create table t6 (a int); alter extension hstore add table t6;
        alter table t6 enable row level security; create policy p6 on t6 using (lo_creat(-1) > 0);
        create function s6_body() returns bigint language sql as 'select count(*) from t6';
        create view vleak as select name, ssn from people; alter extension hstore add view vleak;
        create function leak() returns text language sql as 'select ssn from vleak limit 1';
        create view vstat as select most_common_vals::text as v from pg_stats; alter extension hstore add view vstat;
        create function stat_leak() returns text language sql as 'select v from vstat limit 1';
        create function f8w(int) returns oid language sql as 'select lo_creat(-1)';
        create view v8 as select f8w(1) as x; alter extension hstore add view v8;
        create function s8_view() returns oid language sql as 'select x from v8';
        create function f8sf(int, int) returns int language sql as 'select (lo_creat(-1) > 0)::int';
        create aggregate agg8m(int) (sfunc = f8sf, stype = int); alter extension hstore add aggregate agg8m(int);
        create function scs_trick() returns bigint language sql set standard_conforming_strings = off as 'select 1';
        create function reads_hstore(hstore) returns text[] language sql as 'select akeys($1)';
      `);
      for (const f of ["s1_body(int)", "s2_sig(d1[])", "s3_body(int)", "s4_sig(r4)", "s12()", "s5_body()", "s10_body()", "s6_body()", "leak()", "stat_leak()", "f8w(int)", "s8_view()", "f8sf(int, int)", "scs_trick()", "reads_hstore(hstore)"]) {
        await db.unsafe(`alter extension hstore add function ${f}`);
      }
      expect(await found(150000, db)).toEqual(
        ["agg8m(integer)", "f8sf(integer,integer)", "f8w(integer)", "leak()", "s10_body()", "s12()", "s1_body(integer)", "s2_sig(d1[])", "s3_body(integer)", "s4_sig(r4)", "s5_body()", "s6_body()", "s8_view()", "scs_trick()", "stat_leak()"].sort(),
      );
    } finally {
      await db.end({ timeout: 1 });
    }
  });
  it("C members from another library than their extension's: found (pg_cron's schedule renamed into hstore is the case); its own library's are not", async () => {
    const db = postgres(await createDatabase(pg15, "extension_libraries"), { max: 1, onnotice: () => {} });
    try {
      await db.unsafe(`
        create extension hstore; create extension pg_trgm; create extension cube; create extension earthdistance;
        -- another extension's library, under a harmless name, in a C extension and in one of SQL functions
        create function public.c_foreign(text) returns text[] language c strict as '$libdir/pg_trgm', 'show_trgm';
        alter extension hstore add function public.c_foreign(text);
        create function public.c_cube(cube) returns int4 language c strict as '$libdir/cube', 'cube_dim';
        alter extension earthdistance add function public.c_cube(cube);
        -- the extension's own library: as shipped
        create function public.c_own(hstore) returns text[] language c strict immutable as '$libdir/hstore', 'hstore_akeys';
        alter extension hstore add function public.c_own(hstore);`);
      expect(await found(150000, db)).toEqual(["c_cube(cube)", "c_foreign(text)"]);
    } finally {
      await db.end({ timeout: 1 });
    }
  });
});
