import { classifySql } from "./classify";
import { DEFAULT_FUNCTION_RULES, functionMatcher } from "./classify/functions";
import { initClassifier } from "./classify/parser";
import { codeNamesOf } from "./user-code";
import { AGGREGATE_FUNCTIONS, CALLED_OIDS, FIRST_NORMAL_OID, MEMBER, OPERATOR_FUNCTIONS, ruledBeyondRead, SQL, SYSTEM, systemAt, withAltered } from "./user-code-queries";

/**
 * An installed extension's functions count as its own code (user-code-queries.ts SYSTEM): shipped,
 * not moving data by itself. Its functions in SQL say what they run in their text, and a
 * superuser can make any SQL function a member (`ALTER EXTENSION hstore ADD FUNCTION
 * public.f()`), so those are read here, every time the altered built-ins are (metadata.ts
 * alteredOids), and one that does more than read what PostgreSQL and the extensions made counts
 * as code written by users (its OID joins CTE `altered`):
 *   - a body that does not parse, or that the statement classifier takes for more than a read
 *     (a write, a lock, DDL, `set_config`, `nextval`, `dblink`, a data-modifying CTE), or that
 *     calls a built-in whose result masking cannot follow (`pg_stat_get_activity`) or reads a
 *     relation whose values it cannot follow (VALUE_COPYING: `pg_stats`);
 *   - a body naming a suspect relation (users' table, a foreign table, a view calling a writer or
 *     reading such a relation; SUSPECTS), a suspect type (users' type, one made of a domain whose
 *     CHECK writes), or a function or operator of that name some of which is users' or a writer
 *     (names, not OIDs: a text body is resolved only when it runs, with the caller's search_path);
 *   - a body naming a function found so, or a built-in a superuser changed in place;
 *   - MEMBERS_REACHING: in any language, an argument, result or OUT column of a suspect type, an
 *     aggregate whose support function is a writer or users', a SQL function setting
 *     standard_conforming_strings.
 * What is found counts in turn for the extensions' views, types, operators and aggregates calling
 * it (the catalog is asked again until nothing more is found).
 * A parsed body (BEGIN ATOMIC, RETURN; PostgreSQL 14 on) is read back as text
 * (pg_get_function_sqlbody) and taken the same way, and so are the argument defaults of an
 * extension's function in any language when they are not constants (`CREATE OR REPLACE FUNCTION
 * akeys(hstore DEFAULT ...)`: a call leaving the argument out evaluates it). Extensions' C
 * functions are not read (the function rules and RULED_FUNCTIONS cover the C functions known to
 * move data), but where their code comes from is (FOREIGN_LIBRARY_MEMBERS).
 */

/**
 * Extensions' C functions whose library is not their extension's: every extension PostgreSQL 15
 * ships builds its C functions from one library, so a member from another library is one a
 * superuser added (`CREATE FUNCTION f() ... AS '$libdir/pg_cron', 'cron_schedule'` made a member
 * of hstore: a "read" scheduling jobs). Found: a member whose library is not its extension's (the
 * one named as the extension, else the one most of its C members use; when two tie, both count as
 * foreign), or is another extension's.
 * Not found: the only C member of an extension of SQL functions, from a library no extension uses.
 */
const FOREIGN_LIBRARY_MEMBERS = `with members as (
    select p.oid, p.proname, d.refobjid as ext, regexp_replace(p.probin, '^.*/|\.so$', '', 'g') as lib
    from pg_proc p join pg_depend d on d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.refclassid = 'pg_extension'::regclass and d.deptype = 'e'
    where p.prolang = (select l.oid from pg_language l where l.lanname = 'c') and p.probin is not null),
  libraries as (
    select m.ext, m.lib, rank() over (partition by m.ext order by (m.lib = x.extname) desc, count(*) desc) as r
    from members m join pg_extension x on x.oid = m.ext group by m.ext, m.lib, x.extname),
  usual as (select ext, lib from libraries where r = 1 and not exists (select 1 from libraries t where t.ext = libraries.ext and t.r = 1 and t.lib <> libraries.lib))
  select m.oid::text as oid, m.proname as name from members m
  where not exists (select 1 from usual u where u.ext = m.ext and u.lib = m.lib)
    or exists (select 1 from usual u where u.ext <> m.ext and u.lib = m.lib)
    or exists (select 1 from pg_extension x where x.oid <> m.ext and x.extname = m.lib)`;

/**
 * Function `p` (pg_proc) has an argument default other than a constant (a node other than CONST in
 * the stored expressions; constants print no `{`), an implicit cast included: a call leaving that
 * argument out evaluates it, in the caller's statement.
 */
const NON_CONSTANT_DEFAULTS = (p: string) => `coalesce(${p}.proargdefaults::text ~ '\\{(?!CONST )', false)`;

/**
 * Installed extensions' functions in SQL, with the text of their bodies, and those in any language
 * whose argument defaults are not constants, with those (`defaults`, as a SELECT).
 */
const MEMBER_BODIES = (parsedBodies: boolean) => `select p.oid::text as oid, p.proname as name,
    case when p.prolang = ${SQL} then ${parsedBodies ? `case when p.prosqlbody is null then p.prosrc else pg_get_function_sqlbody(p.oid) end` : "p.prosrc"} end as body,
    ${parsedBodies ? "p.prosqlbody is not null" : "false"} as parsed,
    case when ${NON_CONSTANT_DEFAULTS("p")} then 'select ' || (select string_agg(pg_get_function_arg_default(p.oid, n), ', ') from generate_series(1, p.pronargs) n) end as defaults
  from pg_proc p where (p.prolang = ${SQL} or ${NON_CONSTANT_DEFAULTS("p")}) and ${MEMBER("p.oid")}`;

/** Function `q` (pg_proc) is code written by users, or a built-in a rule takes for more than a read. */
const SUSPECT_FUNCTION = (q: string) => `(not ${systemAt(q)} or ${ruledBeyondRead(`${q}.proname`)})`;
/** Stored expression `tree` calls a SUSPECT_FUNCTION (CTE `suspect_functions`, SUSPECTS). */
const CALLS_SUSPECT = (tree: string) => `exists (select 1 from ${CALLED_OIDS(tree)} m where m[1]::oid in (select oid from suspect_functions))`;
/**
 * PostgreSQL's relations whose values masking cannot follow (source-plans.ts copiesValues):
 * other sessions' SQL text, a column's most common values.
 */
const VALUE_COPYING_NAMES = ["pg_stat_activity", "pg_stat_statements", "pg_statistic", "pg_statistic_ext_data", "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs"];
const VALUE_COPYING = new Set(VALUE_COPYING_NAMES);

/**
 * CTEs `suspect_types` and `suspect_relations` (recursive): a type made by users, or a domain
 * with a CHECK calling a SUSPECT_FUNCTION (an extension's own, or a built-in given one: `ALTER
 * DOMAIN information_schema.yes_or_no ADD CHECK (lo_creat(-1) > 0)`), and every type made of one
 * (a domain over it, an array, a range, a row type with such a column): converting to it runs
 * that. A relation made by users, a foreign table (file_fdw's may run a program), PostgreSQL's
 * value-copying catalogs (VALUE_COPYING), one whose row-level security policy or view definition
 * calls a SUSPECT_FUNCTION, and every view reading (pg_depend of its rule) or table inheriting one.
 * Each step is a join on an edge list, so the catalog is read once per CTE.
 */
const SUSPECTS = `suspect_functions(oid) as (select p.oid from pg_proc p where ${SUSPECT_FUNCTION("p")}),
    type_edges(part, whole) as (
      select t.typbasetype, t.oid from pg_type t where t.typbasetype <> 0
      union all select t.typelem, t.oid from pg_type t where t.typelem <> 0
      union all select r.rngsubtype, r.rngtypid from pg_range r
      union all select r.rngsubtype, r.rngmultitypid from pg_range r
      union all select a.atttypid, t.oid from pg_type t join pg_attribute a on a.attrelid = t.typrelid where t.typrelid <> 0 and a.attnum > 0 and not a.attisdropped),
    suspect_types(oid) as (
      select t.oid from pg_type t where (t.oid >= ${FIRST_NORMAL_OID} and not ${ownedByExtension("pg_type", "t.oid")})
        or exists (select 1 from pg_constraint k where k.contypid = t.oid and k.conbin is not null and ${CALLS_SUSPECT("k.conbin::text")})
      union
      select e.whole from type_edges e join suspect_types s on s.oid = e.part),
    relation_edges(part, whole) as (
      select d.refobjid, w.ev_class from pg_depend d join pg_rewrite w on w.oid = d.objid
        where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_class'::regclass and d.refobjid <> w.ev_class
      union all select i.inhrelid, i.inhparent from pg_inherits i),
    suspect_relations(oid) as (
      select c.oid from pg_class c where (c.oid >= ${FIRST_NORMAL_OID} and not ${ownedByExtension("pg_class", "c.oid")}) or c.relkind = 'f'
        or (c.oid < ${FIRST_NORMAL_OID} and c.relname = any (array[${VALUE_COPYING_NAMES.map((n) => `'${n}'`).join(", ")}]))
        or exists (select 1 from pg_rewrite w where w.ev_class = c.oid and ${CALLS_SUSPECT("w.ev_action::text")})
        or exists (select 1 from pg_policy y where y.polrelid = c.oid and ${CALLS_SUSPECT("coalesce(y.polqual::text, '') || coalesce(y.polwithcheck::text, '')")})
      union
      select e.whole from relation_edges e join suspect_relations s on s.oid = e.part)`;

/** Which of the names given are of code users wrote (see the module comment); $1 functions, $2 operators, $3 types, $4 relations. */
const USERS_NAMES = `with recursive ${SUSPECTS} select
    array(select distinct p.proname::text from pg_proc p where p.proname = any ($1::text[]) and not ${SYSTEM}) as functions,
    array(select distinct o.oprname::text from pg_operator o cross join lateral ${OPERATOR_FUNCTIONS("o")} f(fn) join pg_proc p on p.oid = f.fn
      where o.oprname = any ($2::text[]) and ${SUSPECT_FUNCTION("p")}) as operators,
    array(select distinct t.typname::text from pg_type t where t.typname = any ($3::text[]) and t.oid in (select oid from suspect_types)) as types,
    array(select distinct c.relname::text from pg_class c where c.relname = any ($4::text[]) and c.oid in (select oid from suspect_relations)) as relations`;

/**
 * Extensions' functions running what their signatures, settings and aggregate definitions reach:
 * an argument (OUT and TABLE columns too) or result of a suspect type (a call converts to it; a
 * user's implicit cast to it runs); an aggregate's support function that is a SUSPECT_FUNCTION
 * (`ALTER EXTENSION hstore ADD AGGREGATE f(int4)` with `finalfunc = lo_creat`); a SQL function
 * setting standard_conforming_strings (its body then reads otherwise than it is parsed here).
 */
const MEMBERS_REACHING = `with recursive ${SUSPECTS} select p.oid::text as oid, p.proname as name from pg_proc p where ${MEMBER("p.oid")} and (
      exists (select 1 from suspect_types t where t.oid = any (array_append(coalesce(p.proallargtypes, p.proargtypes::oid[]), p.prorettype)))
      or exists (select 1 from pg_aggregate g cross join lateral ${AGGREGATE_FUNCTIONS("g")} f(fn) join pg_proc q on q.oid = f.fn
        where g.aggfnoid = p.oid and f.fn <> 0 and ${SUSPECT_FUNCTION("q")})
      or exists (select 1 from unnest(p.proconfig) c where c ~* '^(standard_conforming_strings|backslash_quote)='))`;


/** Object `oid` of catalog `catalog` belongs to an extension (a member, or a relation's row type). */
function ownedByExtension(catalog: string, oid: string): string {
  const member = (o: string) => `exists (select 1 from pg_depend e where e.classid = '${catalog}'::regclass and e.objid = ${o} and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e')`;
  // A table's row type and an array type depend on their relation or element, not on the extension.
  return catalog === "pg_type"
    ? `(${member(oid)} or exists (select 1 from pg_type x where x.oid = ${oid} and (${ownedByExtension("pg_class", "x.typrelid")} or (x.typelem <> 0 and ${member("x.typelem")}))))`
    : member(oid);
}

type Query = <T>(text: string, params?: unknown[]) => Promise<T[]>;
interface Body {
  oid: string;
  name: string;
  /** null: not a SQL function */
  body: string | null;
  parsed: boolean;
  /** `select <default>, ...` when some are not constants */
  defaults: string | null;
}
interface Names {
  function: string[];
  operator: string[];
  type: string[];
  relation: string[];
}

/** A body's text as statements: a parsed body comes back as `BEGIN ATOMIC ... END` or `RETURN expr`. */
export function bodyStatements(body: string, parsed: boolean): string | null {
  if (!parsed) return body;
  const atomic = /^\s*BEGIN\s+ATOMIC\b([\s\S]*)\bEND\s*;?\s*$/i.exec(body);
  if (atomic) return atomic[1]!;
  const ret = /^\s*RETURN\b([\s\S]*)$/i.exec(body);
  return ret ? `SELECT ${ret[1]}` : null;
}

/** What a body runs by name, or null when it does more than read or cannot be analysed. */
export function namesOfReadingBody(text: string | null): Names | null {
  if (text === null || classifySql(text).kind !== "read") return null;
  const code = codeNamesOf(text);
  if (code === null || code.populates) return null;
  // what masking cannot follow (pg_stat_get_activity: other sessions' SQL text) is not taken for the extension's own
  const rules = functionMatcher(DEFAULT_FUNCTION_RULES);
  if (code.function.some((f) => rules.match(f.name.toLowerCase())?.unmaskable)) return null;
  if (code.relation.some((r) => VALUE_COPYING.has(r.name))) return null;
  const names = (xs: { name: string }[]) => [...new Set(xs.map((x) => x.name))].sort();
  return { function: names(code.function), operator: names(code.operator), type: names(code.cast), relation: names(code.relation) };
}

/** namesOfReadingBody's answers by body: read again every cache period, bodies seldom change. */
const ANALYSED = new Map<string, Names | null>();
const ANALYSED_LIMIT = 10_000;
function analysed(text: string | null, parsed: boolean): Names | null {
  const key = `${parsed ? "parsed" : "text"}:${text}`;
  let names = ANALYSED.get(key);
  if (names === undefined) {
    names = namesOfReadingBody(text === null ? null : bodyStatements(text, parsed));
    if (ANALYSED.size >= ANALYSED_LIMIT) ANALYSED.clear();
    ANALYSED.set(key, names);
  }
  return names;
}

/** What a function's body and argument defaults name, or null when either does more than read. */
function namesOfFunction(b: Body): Names | null {
  const body = b.body === null ? NO_NAMES : analysed(b.body, b.parsed);
  const defaults = b.defaults === null ? NO_NAMES : analysed(b.defaults, false);
  if (body === null || defaults === null) return null;
  return { function: [...body.function, ...defaults.function], operator: [...body.operator, ...defaults.operator], type: [...body.type, ...defaults.type], relation: [...body.relation, ...defaults.relation] };
}
const NO_NAMES: Names = { function: [], operator: [], type: [], relation: [] };

/**
 * The OIDs of extensions' SQL functions that are code written by users (the module comment),
 * given the built-ins already found altered (`altered`, comma-separated OIDs).
 */
export async function alteredExtensionFunctions(query: Query, altered: string, serverVersionNum: number): Promise<string[]> {
  const bodies = await query<Body>(MEMBER_BODIES(serverVersionNum >= 140000));
  if (bodies.length) await initClassifier();
  const foreign = await query<{ oid: string; name: string }>(FOREIGN_LIBRARY_MEMBERS);
  const flagged = new Set<string>(foreign.map((f) => f.oid));
  const reading = new Map<string, Names>();
  for (const b of bodies) {
    const names = namesOfFunction(b);
    if (names) reading.set(b.oid, names);
    else flagged.add(b.oid);
  }
  const nameOf = new Map([...bodies, ...foreign].map((b) => [b.oid, b.name]));
  const all = (k: keyof Names) => [...new Set([...reading.values()].flatMap((n) => n[k]))];
  // Rounds until nothing more is found: what is found counts for what reaches it (a view, type,
  // operator or aggregate of an extension calling it), so the catalog is asked again with it.
  for (let before = -1; flagged.size !== before; ) {
    before = flagged.size;
    const set = [altered, ...flagged].filter(Boolean).join(",");
    const reaching = await query<{ oid: string; name: string }>(withAltered(MEMBERS_REACHING, set));
    for (const r of reaching) (flagged.add(r.oid), nameOf.set(r.oid, r.name), reading.delete(r.oid));
    // No body left to judge by name (a database with no extension SQL functions): no names to ask.
    if (reading.size === 0) continue;
    const [users] = await query<{ functions: string[]; operators: string[]; types: string[]; relations: string[] }>(withAltered(USERS_NAMES, set), [
      all("function"),
      all("operator"),
      all("type"),
      all("relation"),
    ]);
    const userFunctions = new Set([...users!.functions, ...[...flagged].map((oid) => nameOf.get(oid)!)]);
    const userNames = { operator: new Set(users!.operators), type: new Set(users!.types), relation: new Set(users!.relations) };
    // Within a round: a body calling (by name) one found so is found so.
    for (let changed = true; changed; ) {
      changed = false;
      for (const [oid, names] of reading) {
        const users = names.function.some((f) => userFunctions.has(f)) || (["operator", "type", "relation"] as const).some((k) => names[k].some((x) => userNames[k].has(x)));
        if (!users) continue;
        flagged.add(oid);
        userFunctions.add(nameOf.get(oid)!);
        reading.delete(oid);
        changed = true;
      }
    }
  }
  return [...flagged];
}
