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
 *   - a body naming a SUSPECT_RELATION (users' table, a foreign table, a view calling a writer),
 *     a SUSPECT_TYPE (users' type, a domain whose CHECK writes), or a function or operator of
 *     that name some of which is users' or a writer (names, not OIDs: a text body is resolved
 *     only when it runs, with the caller's search_path);
 *   - a body naming a function found so, or a built-in a superuser changed in place;
 *   - MEMBERS_REACHING: in any language, an argument or result of a SUSPECT_TYPE, or an
 *     aggregate whose support function is a writer or users'.
 * A parsed body (BEGIN ATOMIC, RETURN; PostgreSQL 14 on) is read back as text
 * (pg_get_function_sqlbody) and taken the same way, and so are the argument defaults of an
 * extension's function in any language when they are not constants (`CREATE OR REPLACE FUNCTION
 * akeys(hstore DEFAULT ...)`: a call leaving the argument out evaluates it). Extensions' C
 * functions are not read (the function rules and RULED_FUNCTIONS cover the C functions known to
 * move data).
 */

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
/** Stored expression `tree` calls a SUSPECT_FUNCTION. */
const CALLS_SUSPECT = (tree: string) => `exists (select 1 from ${CALLED_OIDS(tree)} m join pg_proc q on q.oid = m[1]::oid where ${SUSPECT_FUNCTION("q")})`;
/**
 * Type `t` (pg_type) was made by users, or is a domain with a CHECK calling a SUSPECT_FUNCTION
 * (an extension's own, or a built-in given one: `ALTER DOMAIN information_schema.yes_or_no ADD
 * CHECK (lo_creat(-1) > 0)`): converting to it runs that.
 */
const SUSPECT_TYPE = (t: string) => `((${t}.oid >= ${FIRST_NORMAL_OID} and not ${ownedByExtension("pg_type", `${t}.oid`)})
      or exists (select 1 from pg_constraint k where k.contypid = ${t}.oid and k.conbin is not null and ${CALLS_SUSPECT("k.conbin::text")}))`;
/**
 * Relation `c` (pg_class) was made by users, is a foreign table (file_fdw's may run a program), or
 * is a view whose definition calls a SUSPECT_FUNCTION (an extension's own; PostgreSQL's
 * pg_stat_activity; one a superuser replaced).
 */
const SUSPECT_RELATION = (c: string) => `((${c}.oid >= ${FIRST_NORMAL_OID} and not ${ownedByExtension("pg_class", `${c}.oid`)}) or ${c}.relkind = 'f'
      or exists (select 1 from pg_rewrite w where w.ev_class = ${c}.oid and ${CALLS_SUSPECT("w.ev_action::text")}))`;

/** Which of the names given are of code users wrote (see the module comment); $1 functions, $2 operators, $3 types, $4 relations. */
const USERS_NAMES = `select
    array(select distinct p.proname::text from pg_proc p where p.proname = any ($1::text[]) and not ${SYSTEM}) as functions,
    array(select distinct o.oprname::text from pg_operator o cross join lateral ${OPERATOR_FUNCTIONS("o")} f(fn) join pg_proc p on p.oid = f.fn
      where o.oprname = any ($2::text[]) and ${SUSPECT_FUNCTION("p")}) as operators,
    array(select distinct t.typname::text from pg_type t where t.typname = any ($3::text[]) and ${SUSPECT_TYPE("t")}) as types,
    array(select distinct c.relname::text from pg_class c where c.relname = any ($4::text[]) and ${SUSPECT_RELATION("c")}) as relations`;

/**
 * Extensions' functions running what their signatures and aggregate definitions reach: an
 * argument or result of a SUSPECT_TYPE (a call converts to it; a user's implicit cast to it runs),
 * an aggregate's support function that is a SUSPECT_FUNCTION (`ALTER EXTENSION hstore ADD
 * AGGREGATE f(int4)` with `finalfunc = lo_creat`).
 */
const MEMBERS_REACHING = `select p.oid::text as oid, p.proname as name from pg_proc p where ${MEMBER("p.oid")} and (
      exists (select 1 from pg_type t where t.oid = any (array_append(p.proargtypes::oid[], p.prorettype)) and ${SUSPECT_TYPE("t")})
      or exists (select 1 from pg_aggregate g cross join lateral ${AGGREGATE_FUNCTIONS("g")} f(fn) join pg_proc q on q.oid = f.fn
        where g.aggfnoid = p.oid and f.fn <> 0 and ${SUSPECT_FUNCTION("q")}))`;

/**
 * PostgreSQL's relations whose values masking cannot follow (source-plans.ts copiesValues):
 * other sessions' SQL text, a column's most common values.
 */
const VALUE_COPYING = new Set(["pg_stat_activity", "pg_stat_statements", "pg_statistic", "pg_statistic_ext_data", "pg_stats", "pg_stats_ext", "pg_stats_ext_exprs"]);

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
  const reaching = await query<{ oid: string; name: string }>(withAltered(MEMBERS_REACHING, altered));
  const bodies = await query<Body>(MEMBER_BODIES(serverVersionNum >= 140000));
  const flagged = new Set(reaching.map((r) => r.oid));
  // by name, what found so calls: a body calling one of these names is found so too
  const userFunctions = new Set(reaching.map((r) => r.name));
  if (bodies.length === 0) return [...flagged];
  await initClassifier();
  const reading = new Map<string, Names>();
  const nameOf = new Map(bodies.map((b) => [b.oid, b.name]));
  for (const b of bodies) {
    const names = flagged.has(b.oid) ? null : namesOfFunction(b);
    if (names) reading.set(b.oid, names);
    else (flagged.add(b.oid), userFunctions.add(b.name));
  }
  const all = (k: keyof Names) => [...new Set([...reading.values()].flatMap((n) => n[k]))];
  const [users] = await query<{ functions: string[]; operators: string[]; types: string[]; relations: string[] }>(withAltered(USERS_NAMES, altered), [
    all("function"),
    all("operator"),
    all("type"),
    all("relation"),
  ]);
  for (const f of users!.functions) userFunctions.add(f);
  const userNames = { operator: new Set(users!.operators), type: new Set(users!.types), relation: new Set(users!.relations) };
  // Until nothing changes: a body calling (by name) one found so is found so.
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
  return [...flagged];
}
