import { PGlite } from "@electric-sql/pglite";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_FUNCTION_RULES } from "@/lib/gateway/protocols/postgres/classify/functions";
import { RULED_FUNCTIONS, RULED_SYMBOLS } from "@/lib/gateway/protocols/postgres/ruled-symbols";
import { alteredOidsQuery, USER_CODE, withAltered } from "@/lib/gateway/protocols/postgres/user-code-queries";
import { createDatabase, startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Built-ins a superuser changed in place keep the OIDs initdb gave them (below 16384), so the OID
 * alone would take them for PostgreSQL's own code. user-code-queries.ts ALTERED_BUILTINS tells
 * them apart by what their rows say runs; this test changes built-ins every way PostgreSQL allows
 * on a real PostgreSQL 15 and checks which ones it finds. End to end (a read-only policy, the
 * database unchanged): postgres-write-bypass-objects.test.ts.
 */

/** "symbol name" of the built-ins a rule names, and the built-ins of other names running one of their symbols, in a catalog. */
const SYMBOLS_OF_RULED = `select
    array(select distinct p.prosrc || ' ' || p.proname from pg_proc p where p.prolang = 12 and p.oid < 16384 and p.proname like any ($1::text[])) as ruled,
    array(select p.oid::regprocedure::text from pg_proc p where p.prolang = 12 and p.oid < 16384 and not p.proname like any ($1::text[]) and p.prosrc = any ($2::text[])) as others`;
/** PostgreSQL 15 and PGlite's 18 both have parsed SQL bodies. */
const ALTERED_OIDS = alteredOidsQuery(150000);
const RULE_PATTERNS = [...new Set(DEFAULT_FUNCTION_RULES.map((r) => r.name.replace(/_/g, "\\_").replace(/\*/g, "%")))];

describe("PostgreSQL: built-ins a superuser changed in place are not taken for PostgreSQL's own", () => {
  let pg15: Postgres15;
  let direct: postgres.Sql;
  let pglite: PGlite;

  beforeAll(async () => {
    pg15 = await startPostgres15();
    direct = postgres(await createDatabase(pg15, "altered"), { max: 1, onnotice: () => {} });
    pglite = new PGlite();
  }, 120_000);

  afterAll(async () => {
    await direct?.end({ timeout: 1 });
    await pglite?.close();
    await pg15?.stop();
  });

  const altered = async (): Promise<string[]> => {
    const [{ oids }] = await direct.unsafe<{ oids: string }[]>(ALTERED_OIDS);
    if (!oids) return [];
    return (await direct.unsafe<{ f: string }[]>(`select unnest('{${oids}}'::oid[])::regprocedure::text as f order by 1`)).map((r) => r.f);
  };

  it("PostgreSQL 15 and PGlite (PostgreSQL 18) as initdb made them: nothing is altered", async () => {
    expect(await altered()).toEqual([]);
    expect((await pglite.query<{ oids: string }>(ALTERED_OIDS)).rows[0]!.oids).toBe("");
    // The query for servers before 14 does not name prosqlbody (they have no such column).
    const before14 = alteredOidsQuery(130000);
    expect(before14).not.toContain("prosqlbody");
    expect((await direct.unsafe<{ oids: string }[]>(before14))[0]!.oids).toBe("");
  });

  it("RULED_FUNCTIONS holds the C function and name of every built-in a rule names, and no other built-in runs one (PostgreSQL 15 and PGlite)", async () => {
    const [pg] = await direct.unsafe<{ ruled: string[]; others: string[] }[]>(SYMBOLS_OF_RULED, [RULE_PATTERNS, [...RULED_SYMBOLS]]);
    const lite = (await pglite.query<{ ruled: string[]; others: string[] }>(SYMBOLS_OF_RULED, [RULE_PATTERNS, [...RULED_SYMBOLS]])).rows[0]!;
    for (const { ruled, others } of [pg!, lite]) {
      expect(ruled.length).toBeGreaterThan(100);
      expect(ruled.filter((s) => !RULED_FUNCTIONS.includes(s))).toEqual([]);
      expect(others).toEqual([]);
    }
  });

  it("finds each way of changing what a built-in runs, and not rights, owner, cost, settings or comments", async () => {
    await direct.unsafe(`create sequence s; create table t_log (n int); create table t_secret (secret text)`);
    const changes: [sql: string, found: string[]][] = [
      // what does not change what runs
      ["grant execute on function pg_catalog.pg_ls_dir(text) to public", []],
      ["alter function pg_catalog.initcap(text) cost 2", []],
      ["alter function pg_catalog.upper(text) set work_mem = '8MB'", []],
      ["comment on function pg_catalog.lower(text) is 'changed'", []],
      ["create role gh_owner; alter function pg_catalog.initcap(text) owner to gh_owner", []],
      // another language
      ["create or replace function pg_catalog.to_hex(integer) returns text language plpgsql as $$ begin perform nextval('s'); return 'x'; end $$", ["to_hex(integer)"]],
      // C from a library PostgreSQL's built-ins do not load from
      ["create or replace function pg_catalog.btrim(text, text) returns text language c as '$libdir/dblink', 'dblink_exec'", ["btrim(text,text)"]],
      // a writer's C function under another name (created, never called: the signature does not match)
      ["create or replace function pg_catalog.chr(integer) returns text language internal as 'nextval_oid'", ["chr(integer)"]],
      // a writer renamed, also to the name of a built-in a rule takes for a read
      ["alter function pg_catalog.lo_unlink(oid) rename to gh_unlink", ["gh_unlink(oid)"]],
      ["alter function pg_catalog.setval(regclass, bigint, boolean) rename to pg_stat_get_activity", ["pg_stat_get_activity(regclass,bigint,boolean)"]],
      // a text body, whatever it does
      ["create or replace function pg_catalog.initcap(text) returns text language sql as $$ select 'x' $$", ["initcap(text)"]],
      // parsed bodies that write, call a writer, read a table users made, lock rows
      ["create or replace function pg_catalog.quote_ident(text) returns text begin atomic insert into public.t_log values (1); select 'x'; end", ["quote_ident(text)"]],
      ["create or replace function pg_catalog.to_ascii(text) returns text begin atomic select nextval('s')::text; end", ["to_ascii(text)"]],
      ["create or replace function pg_catalog.reverse(text) returns text begin atomic select max(secret) from public.t_secret; end", ["reverse(text)"]],
      ["create or replace function pg_catalog.repeat(text, integer) returns text begin atomic select relname::text from pg_class limit 1 for update; end", ["repeat(text,integer)"]],
      // a built-in whose parsed body calls a changed one: date_part(text, date) calls timestamp(date)
      ["create or replace function pg_catalog.timestamp(date) returns timestamp language plpgsql as $$ begin perform nextval('s'); return now(); end $$", ["\"timestamp\"(date)", "date_part(text,date)"]],
      // a parsed body converting to a user's domain whose CHECK writes (no call in the body's tree)
      [
        "create domain gh_d as int8 check (nextval('s') > 0); create or replace function pg_catalog.pg_relation_size(regclass) returns bigint language sql parallel safe strict return pg_catalog.pg_relation_size($1, 'main') + (0::int8)::public.gh_d",
        ["pg_relation_size(regclass)"],
      ],
      // an argument default calling a writer (a call leaving the argument out runs it), and one that only reads
      ["create or replace function pg_catalog.md5(text default lo_create(0)::text) returns text language internal immutable strict parallel safe as 'md5_text'", ["md5(text)"]],
      ["create or replace function pg_catalog.sha224(bytea default pg_catalog.decode(lower('00'), 'hex')) returns bytea language internal immutable strict parallel safe as 'sha224_bytea'", []],
      // a default calling a built-in whose result masking cannot follow (other sessions' SQL text)
      ["create or replace function pg_catalog.ltrim(text default pg_stat_get_backend_activity(3)) returns text language internal immutable strict parallel safe as 'ltrim1'", ["ltrim(text)"]],
      // a parsed body converting to a built-in domain a superuser gave a writing CHECK
      [
        "alter domain information_schema.yes_or_no add constraint gh_w check (lo_creat(-1) > 0); create or replace function pg_catalog.rpad(text, integer) returns text language sql immutable strict parallel safe return pg_catalog.rpad($1, $2, ('YES'::information_schema.yes_or_no)::text)",
        ["rpad(text,integer)"],
      ],
      // an aggregate given a transition function users wrote
      ["create function public.gh_sf(int4, int4) returns int4 language sql as 'select greatest($1, $2)'; create or replace aggregate pg_catalog.max(int4) (sfunc = public.gh_sf, stype = int4)", ["max(integer)"]],
    ];
    let expected: string[] = [];
    for (const [sql, found] of changes) {
      await direct.unsafe(sql);
      expected = [...expected, ...found];
      expect({ sql, altered: await altered() }).toEqual({ sql, altered: expect.arrayContaining(expected) });
    }
    // Beyond what was changed, only built-ins whose parsed body calls a changed one: every other
    // built-in is still PostgreSQL's own.
    const [{ oids }] = await direct.unsafe<{ oids: string }[]>(ALTERED_OIDS);
    const extras = await direct.unsafe<{ f: string; calls_altered: boolean }[]>(
      `select p.oid::regprocedure::text as f, exists (select 1 from unnest('{${oids}}'::oid[]) a(oid) where p.prosqlbody::text ~ (':funcid ' || a.oid || '\\M')) as calls_altered
       from pg_proc p where p.oid = any ('{${oids}}'::oid[]) and not p.oid::regprocedure::text = any ($1::text[])`,
      [expected],
    );
    expect(extras.length).toBeGreaterThan(0);
    expect(extras.filter((e) => !e.calls_altered)).toEqual([]);
  });

  it("an extension's functions in C are its own; one in PL/pgSQL, one added to plpgsql, or a writer's C function under another name (dblink_exec renamed), is code written by users", async () => {
    await direct.unsafe(`create extension hstore;
      create function public.gh_member() returns bigint language plpgsql as $$ begin return nextval('s'); end $$;
      alter extension hstore add function public.gh_member();
      create function public.gh_tick() returns bigint language sql as $$ select nextval('public.s') $$;
      alter extension plpgsql add function public.gh_tick();
      create function public.gh_peek(regclass) returns bigint language internal strict as 'nextval_oid';
      alter extension hstore add function public.gh_peek(regclass);
      create extension dblink;
      alter function public.dblink_exec(text, text) rename to gh_harmless;
      create extension tablefunc;
      alter function public.connectby(text, text, text, text, int, text) rename to gh_tree;
      create extension pageinspect;
      alter function public.get_raw_page(text, int8) rename to gh_page`);
    const [{ oids }] = await direct.unsafe<{ oids: string }[]>(ALTERED_OIDS);
    const lookup = async (name: string) => (await direct.unsafe<{ fn: string }[]>(withAltered(USER_CODE.function, oids), [name, null])).map((r) => r.fn);
    expect(await lookup("hstore_to_json")).toEqual([]);
    expect(await lookup("gh_member")).toEqual(["public.gh_member"]);
    expect(await lookup("gh_tick")).toEqual(["public.gh_tick"]);
    expect(await lookup("gh_peek")).toEqual(["public.gh_peek"]);
    expect(await lookup("gh_harmless")).toEqual(["public.gh_harmless"]);
    // C functions exported under a variant of the ruled name: connectby_text, get_raw_page_1_9
    expect(await lookup("gh_tree")).toEqual(["public.gh_tree"]);
    expect(await lookup("gh_page")).toEqual(["public.gh_page"]);
    expect(await lookup("crosstab")).toEqual([]);
    expect(await lookup("dblink_connect")).toEqual([]);
  });

  it("a built-in or extension type given a function users wrote (ALTER TYPE int4 SET (SEND = f)) counts for every statement", async () => {
    const [{ oids }] = await direct.unsafe<{ oids: string }[]>(ALTERED_OIDS);
    const everywhere = async () => (await direct.unsafe<{ fn: string }[]>(withAltered(USER_CODE.systemCasts, oids))).map((r) => r.fn);
    expect(await everywhere()).not.toContain("public.gh_send");
    await direct.unsafe(`create function public.gh_send(int4) returns bytea language plpgsql strict immutable as $$ begin perform nextval('s'); return int4send($1); end $$;
      alter type pg_catalog.int4 set (send = public.gh_send)`);
    expect(await everywhere()).toContain("public.gh_send");
    // an extension's type too (hstore, made by an earlier test here): any function returning one sends it
    await direct.unsafe(`create function public.gh_hsend(hstore) returns bytea language plpgsql strict immutable as $$ begin perform nextval('s'); return hstore_send($1); end $$;
      alter type hstore set (send = public.gh_hsend)`);
    expect(await everywhere()).toContain("public.gh_hsend");
  });

  it("what operators, operator classes and text search parsers run is looked up: estimators, negators, default classes on built-in types", async () => {
    const [{ oids }] = await direct.unsafe<{ oids: string }[]>(ALTERED_OIDS);
    const lookup = async (kind: "operator" | "systemCasts", name = "") =>
      (await direct.unsafe<{ fn: string }[]>(withAltered(USER_CODE[kind], oids), kind === "systemCasts" ? [] : [name, null])).map((r) => r.fn);
    await direct.unsafe(`create function public.gh_rest(internal, oid, internal, int4) returns float8 language internal strict as 'pg_advisory_lock_int8';
      create operator public.==== (leftarg = int4, rightarg = int4, procedure = int4eq, restrict = public.gh_rest);
      create function public.gh_neq(int4, int4) returns bool language plpgsql as $$ begin perform nextval('s'); return $1 <> $2; end $$;
      create operator public.!== (leftarg = int4, rightarg = int4, procedure = public.gh_neq);
      create operator public.=== (leftarg = int4, rightarg = int4, procedure = int4eq, negator = operator(public.!==))`);
    // a user's operator: its estimator, and its negator's function
    expect(await lookup("operator", "====")).toEqual(["public.gh_rest"]);
    expect(await lookup("operator", "===")).toEqual(["public.gh_neq"]);
    // Each of these makes every statement on the database run code users wrote (systemCasts).
    const everywhere: [sql: string, fn: string][] = [
      ["alter operator pg_catalog.= (int4, int4) set (restrict = public.gh_rest)", "public.gh_rest"],
      [
        `create function public.gh_notcontains(anyarray, anyarray) returns bool language plpgsql as $$ begin perform nextval('s'); return not ($1 @> $2); end $$;
         create operator public.!@> (leftarg = anyarray, rightarg = anyarray, procedure = public.gh_notcontains, negator = operator(pg_catalog.@>))`,
        "public.gh_notcontains",
      ],
      [
        `create function public.gh_pcmp(point, point) returns int4 language plpgsql as $$ begin perform nextval('s'); return 0; end $$;
         create operator class public.gh_point_ops default for type point using btree as operator 1 pg_catalog.<< (point, point),
           operator 2 pg_catalog.<^ (point, point), operator 3 pg_catalog.~= (point, point), operator 4 pg_catalog.>^ (point, point),
           operator 5 pg_catalog.>> (point, point), function 1 public.gh_pcmp(point, point)`,
        "public.gh_pcmp",
      ],
      [
        `create function public.gh_ts_start(internal, int4) returns internal language internal strict as 'pg_advisory_lock_int8';
         create text search parser public.gh_prs (start = public.gh_ts_start, gettoken = prsd_nexttoken, end = prsd_end, lextypes = prsd_lextype)`,
        "public.gh_ts_start",
      ],
    ];
    for (const [sql, fn] of everywhere) {
      expect(await lookup("systemCasts")).not.toContain(fn);
      await direct.unsafe(sql);
      expect({ sql, found: await lookup("systemCasts") }).toEqual({ sql, found: expect.arrayContaining([fn]) });
    }
  });
});
