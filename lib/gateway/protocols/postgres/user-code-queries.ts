import { DEFAULT_FUNCTION_RULES, type FunctionRule } from "./classify/functions";
import { RULED_FUNCTIONS, RULED_SYMBOLS } from "./ruled-symbols";

/** PostgreSQL's FirstNormalObjectId: what initdb made has lower OIDs; users' and extensions' objects, from here on. */
export const FIRST_NORMAL_OID = 16384;
/** pg_language's fixed OIDs: the languages of PostgreSQL's own functions. */
const INTERNAL = 12, C = 13;
export const SQL = 14;
/** Function `fn` is a member of an extension (CREATE EXTENSION, or ALTER EXTENSION ... ADD). */
export const MEMBER = (fn: string) =>
  `exists (select 1 from pg_depend e where e.classid = 'pg_proc'::regclass and e.objid = ${fn} and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e')`;

/**
 * The catalog queries behind UpstreamMetadata.userCode (metadata.ts): which functions written by
 * users a statement naming a function, operator, type or relation runs (user-code.ts says why).
 */

/**
 * Functions shipped with PostgreSQL or with an installed extension (hstore's casts, pgcrypto):
 * code the gateway takes as not moving data by itself. Extensions that do (dblink) are classified
 * by the function rules (classify/functions.ts) before this. PostgreSQL's own are those initdb
 * made, below FirstNormalObjectId (16384), not those in pg_catalog: a superuser may create a
 * function there (`CREATE FUNCTION pg_catalog.f()`), and it is code written by users like any other;
 * and of those, only the ones still as initdb made them (not in CTE `altered`, ALTERED_BUILTINS):
 * `CREATE OR REPLACE FUNCTION pg_catalog.initcap(text) ...` keeps initcap's OID. An extension's
 * members are its own on the same terms (ALTERED_BUILTINS says which are not: one in PL/pgSQL,
 * pg_partman's run_maintenance or PostGIS's AddGeometryColumn, writes like any user's; and
 * extension-bodies.ts which SQL ones do more than read).
 */
export const systemAt = (p: string) => `((${p}.oid < ${FIRST_NORMAL_OID} or ${MEMBER(`${p}.oid`)}) and ${p}.oid <> all (array(select oid from altered)))`;
export const SYSTEM = systemAt("p");
/**
 * Built-in functions the function rules (classify/functions.ts) classify, by name as those rules
 * match: `nextval`, `pg_advisory_*`. PostgreSQL records no dependency on its own (pinned)
 * functions, so a view, CHECK, default or policy calling one is found by reading its stored
 * expression (TREES_OF_OBJS), a cast or operator backed by one by its function's OID. Such a
 * hit is named `builtin:schema.name`; user-code.ts counts it only where the rule does more than
 * the statement (nextval in a write's column default does not).
 */
const RULED = (rules: readonly FunctionRule[]) => `array[${[...new Set(rules.map((r) => r.name))].map((n) => `'${n.replace(/_/g, "\\_").replace(/\*/g, "%")}'`).join(", ")}]`;
/** SQL: `column` (a function's name, or its C symbol) matches a name of `rules`. */
const ruledName = (column: string, rules: readonly FunctionRule[] = DEFAULT_FUNCTION_RULES) => `${column} like any (${RULED(rules)})`;
const RULED_PROC = ruledName("p.proname");
/** Rules for functions that only read (pg_stat_get_activity: other sessions' SQL text). */
const RULED_READ = ruledName("p.proname", DEFAULT_FUNCTION_RULES.filter((r) => r.kind === "read"));
/** Rules for what a column default can run beyond the write that runs it (not nextval). */
const RULED_BEYOND_WRITE = ruledName("p.proname", DEFAULT_FUNCTION_RULES.filter((r) => r.kind !== "read" && r.kind !== "write"));
/**
 * SQL: function name `column` matches a rule for more than a read, or for a read masking cannot
 * follow (pg_stat_get_activity): what code the statement does not name must not run unseen.
 */
export const ruledBeyondRead = (column: string) => ruledName(column, DEFAULT_FUNCTION_RULES.filter((r) => r.kind !== "read" || r.unmaskable));
export const BUILTIN_PREFIX = "builtin:";
/** `fn` for a pg_proc `p` in namespace `n`: a user function's name, or a built-in's with BUILTIN_PREFIX. */
const FN = `case when ${SYSTEM} then '${BUILTIN_PREFIX}' else '' end || n.nspname || '.' || p.proname`;
/** A function of `p` that is code written by users, or a built-in the function rules classify. */
const USER_OR_RULED = `(not ${SYSTEM} or ${RULED_PROC})`;
/** The function OIDs a stored expression (pg_node_tree text) `tree` calls: functions, operators' functions, aggregates, window functions. */
export const CALLED_OIDS = (tree: string) => `regexp_matches(${tree}, ':(?:funcid|opfuncid|aggfnoid|winfnoid) (\\d+)', 'g')`;
/** Users' objects (FIRST_NORMAL_OID on). */
const USERS = (oid: string) => `${oid} >= ${FIRST_NORMAL_OID}`;

/** Libraries C built-ins load from: plpgsql's handlers, snowball dictionaries, encoding conversions. */
const BUILTIN_LIBRARIES = `'^\\$libdir/(plpgsql|dict_snowball|euc2004_sjis2004|[a-z0-9_]+_and_[a-z0-9_]+)$'`;
/**
 * The text bodies of PostgreSQL's own SQL functions that are not parsed at creation (the others
 * are BEGIN ATOMIC / RETURN, stored parsed in prosqlbody), in PostgreSQL 15 and 18.
 */
const BUILTIN_SQL_TEXTS = [
  "select pg_catalog.quote_literal($1::pg_catalog.text)",
  "select pg_catalog.quote_nullable($1::pg_catalog.text)",
  "select $1 operator(pg_catalog.||) $2::pg_catalog.text",
  "select $1::pg_catalog.text operator(pg_catalog.||) $2",
  "SELECT * FROM pg_catalog.unnest($1) WITH ORDINALITY",
  `select $1[s],
        s operator(pg_catalog.-) pg_catalog.array_lower($1,1) operator(pg_catalog.+) 1
        from pg_catalog.generate_series(pg_catalog.array_lower($1,1),
                                        pg_catalog.array_upper($1,1),
                                        1) as g(s)`,
];
const sqlText = (s: string) => `'${s.replace(/'/g, "''")}'`;
/**
 * A parsed SQL body `body` (pg_node_tree text) that does more than read PostgreSQL's own
 * relations: a query other than SELECT, a data-modifying CTE, FOR UPDATE, a utility statement, a
 * relation users made. (What it calls: ALTERED_BUILTINS `calls`.)
 */
const BODY_BEYOND_READ = (body: string) => `(${body} ~ ':commandType [^1]|:hasModifyingCTE true|:hasForUpdate true|:utilityStmt [^<]'
        or exists (select 1 from regexp_matches(${body}, ':relid (\\d+)', 'g') r where ${USERS("r[1]::oid")}))`;
/** A type `t`'s functions (pg_type): input, output, binary, type modifier, statistics, subscripting. */
const TYPE_FUNCTIONS = (t: string) =>
  `(values (${t}.typinput::oid), (${t}.typoutput::oid), (${t}.typreceive::oid), (${t}.typsend::oid), (${t}.typmodin::oid), (${t}.typmodout::oid), (${t}.typanalyze::oid), (${t}.typsubscript::oid))`;
/**
 * The functions operator `o` (pg_operator) runs: its own, its selectivity estimators (the planner
 * calls them), and its negator's and commutator's (the planner turns `NOT (a op b)` into the
 * negator, `1 op a` into the commutator).
 */
export const OPERATOR_FUNCTIONS = (o: string) => `(select ${o}.oprcode::oid union all select ${o}.oprrest::oid union all select ${o}.oprjoin::oid
        union all select x.oprcode::oid from pg_operator x where x.oid in (${o}.oprnegate, ${o}.oprcom))`;
/** The support functions of aggregate `g` (pg_aggregate): what runs for each row and at the end. */
export const AGGREGATE_FUNCTIONS = (g: string) =>
  `(values (${g}.aggtransfn::oid), (${g}.aggfinalfn::oid), (${g}.aggcombinefn::oid), (${g}.aggserialfn::oid), (${g}.aggdeserialfn::oid), (${g}.aggmtransfn::oid), (${g}.aggminvtransfn::oid), (${g}.aggmfinalfn::oid))`;
/**
 * CTEs `calls(caller, callee)`, the functions built-ins call (pg_depend, aggregates' support
 * functions, parsed SQL bodies), and `altered(oid)`: built-ins (below FIRST_NORMAL_OID) that are
 * no longer what initdb made, as far as their rows tell without a copy of the original (xmin does
 * not: once frozen every row reads alike). A superuser's `CREATE OR REPLACE FUNCTION pg_catalog.initcap(text)` keeps the
 * OID, and so would pass for PostgreSQL's own code (SYSTEM). Altered is:
 *   - a language initdb gives no built-in (plpgsql, plperl);
 *   - C code from another library than BUILTIN_LIBRARIES (`AS '$libdir/dblink', 'dblink_exec'`);
 *   - a C function of PostgreSQL's the function rules classify (RULED_FUNCTIONS: `nextval_oid`)
 *     under another name than its own: renamed (`ALTER FUNCTION nextval RENAME TO nv`) or
 *     replaced; at any OID (`CREATE FUNCTION f(regclass) ... LANGUAGE internal AS 'nextval_oid'`
 *     added to an extension);
 *   - an extension's C function whose symbol a rule names under a name no rule has (`ALTER
 *     FUNCTION dblink_exec(text) RENAME TO x`: extensions name their C functions after their SQL
 *     ones; not pg_cron's `schedule`, whose symbol is `cron_schedule`);
 *   - an extension's member in another language than C, internal or SQL (PL/pgSQL), and a member
 *     of an extension initdb made (plpgsql) that initdb did not make (`ALTER EXTENSION plpgsql ADD
 *     FUNCTION public.f()`);
 *   - a SQL function with a text body other than BUILTIN_SQL_TEXTS;
 *   - a parsed SQL body (BEGIN ATOMIC, RETURN) that writes, locks rows, reads a relation users
 *     made, or calls a built-in the rules classify, a function users wrote, or another altered one;
 *   - a built-in depending on an object users made (pg_depend: `CREATE OR REPLACE AGGREGATE
 *     pg_catalog.max(int4) (sfunc = public.f, ...)`, a body converting to a user's domain), or
 *     calling (an aggregate's support function, a parsed body's call, a view a parsed body reads
 *     calls, an argument default's call: `CREATE OR REPLACE FUNCTION pg_catalog.md5(text DEFAULT
 *     lo_create(0)::text)` makes `SELECT md5()` write, the CHECK of a domain it depends on) a
 *     built-in the rules classify as more than a read or as a read masking cannot follow
 *     (ruledBeyondRead), or an altered one.
 * Rights (GRANT EXECUTE), owner, cost and settings are not compared: they do not change what runs.
 * Some of these run the original anyway (fmgr finds PostgreSQL's C built-ins by OID, whatever
 * pg_proc says, unless the planner inlines a SQL body in their place); they count all the same.
 * Before PostgreSQL 14 (no parsed bodies) every built-in SQL function has a text body, which is
 * not compared (`parsedBodies` false): only the language, library and C function are.
 */
const ALTERED_BUILTINS = (parsedBodies: boolean) => `calls(caller, callee) as (
      select d.objid, d.refobjid from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid < ${FIRST_NORMAL_OID}
      union all
      select g.aggfnoid, f.fn from pg_aggregate g cross join lateral ${AGGREGATE_FUNCTIONS("g")} f(fn) where g.aggfnoid < ${FIRST_NORMAL_OID} and f.fn <> 0
      union all
      select p.oid, m[1]::oid from pg_proc p cross join lateral ${CALLED_OIDS("p.proargdefaults::text")} m where p.oid < ${FIRST_NORMAL_OID} and p.proargdefaults is not null
      union all
      select d.objid, m[1]::oid from pg_depend d join pg_constraint k on k.contypid = d.refobjid cross join lateral ${CALLED_OIDS("k.conbin::text")} m
        where d.classid = 'pg_proc'::regclass and d.objid < ${FIRST_NORMAL_OID} and d.refclassid = 'pg_type'::regclass and k.conbin is not null${
        parsedBodies ? `
      union all
      select p.oid, m[1]::oid from pg_proc p cross join lateral ${CALLED_OIDS("p.prosqlbody::text")} m
        where p.prolang = ${SQL} and p.oid < ${FIRST_NORMAL_OID} and p.prosqlbody is not null
      union all
      select p.oid, x.callee from pg_proc p cross join lateral regexp_matches(p.prosqlbody::text, ':relid (\\d+)', 'g') r
        join pg_rewrite w on w.ev_class = r[1]::oid and w.ev_type = '1'
        cross join lateral (select m[1]::oid from ${CALLED_OIDS("w.ev_action::text")} m
          union all select d.refobjid from pg_depend d where d.classid = 'pg_rewrite'::regclass and d.objid = w.oid) x(callee)
        where p.prolang = ${SQL} and p.oid < ${FIRST_NORMAL_OID} and p.prosqlbody is not null` : ""}),
    altered(oid) as (
      select p.oid from pg_proc p where p.oid < ${FIRST_NORMAL_OID}
        and (p.prolang not in (${INTERNAL}, ${C}, ${SQL}) or (p.prolang = ${C} and coalesce(p.probin, '') !~ ${BUILTIN_LIBRARIES}))
      union all
      select p.oid from pg_proc p where p.prolang = ${INTERNAL} and p.prosrc = any (array[${RULED_SYMBOLS.map(sqlText).join(", ")}])
        and p.prosrc || ' ' || p.proname <> all (array[${RULED_FUNCTIONS.map(sqlText).join(", ")}])
      union all
      select p.oid from pg_proc p where p.prolang = ${C} and ${ruledName("p.prosrc")} and not ${RULED_PROC}
      union all
      select p.oid from pg_proc p join pg_depend e on e.classid = 'pg_proc'::regclass and e.objid = p.oid and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e'
        where p.prolang not in (${INTERNAL}, ${C}, ${SQL}) or (${USERS("p.oid")} and e.refobjid < ${FIRST_NORMAL_OID})
      union all
      select c.caller from calls c
        where ${USERS("c.callee")} or exists (select 1 from pg_proc q where q.oid = c.callee and ${ruledBeyondRead("q.proname")})${
        parsedBodies ? `
      union all
      select p.oid from pg_proc p where p.prolang = ${SQL} and p.oid < ${FIRST_NORMAL_OID} and p.prosqlbody is null
        and p.prosrc <> all (array[${BUILTIN_SQL_TEXTS.map(sqlText).join(", ")}])
      union all
      select p.oid from pg_proc p cross join lateral (select p.prosqlbody::text) b(body)
        where p.prolang = ${SQL} and p.oid < ${FIRST_NORMAL_OID} and p.prosqlbody is not null and ${BODY_BEYOND_READ("b.body")}` : ""}
      union
      select c.caller from altered a join calls c on c.callee = a.oid)`;
/**
 * The OIDs of ALTERED_BUILTINS, comma-separated, for a server of that `server_version_num`
 * (metadata.ts reads them once per cache period).
 */
export const alteredOidsQuery = (serverVersionNum: number) =>
  `with recursive ${ALTERED_BUILTINS(serverVersionNum >= 140000)} select coalesce(string_agg(oid::text, ','), '') as oids from altered`;
/** `query` with CTE `altered` (which SYSTEM reads) as the OIDs alteredOidsQuery gave. */
export const withAltered = (query: string, oids: string) => {
  if (!/^[0-9,]*$/.test(oids)) throw new Error(`not a list of OIDs: ${JSON.stringify(oids)}`);
  const q = query.trimStart();
  const cte = `altered(oid) as (select unnest('{${oids}}'::oid[]))`;
  const head = /^with (recursive )?/i.exec(q)?.[0];
  return head ? `${head}${cte},\n    ${q.slice(head.length)}` : `with ${cte}\n    ${q}`;
};

/** $1: the name as the parser gives it; $2: its schema, or null when unqualified. */
const inSchema = (alias: string, schema = "$2") => `(${schema}::text is null or ${alias}.nspname = ${schema}::text or (${schema}::text = 'pg_temp' and ${alias}.nspname like 'pg\\_temp\\_%'))`;
/**
 * The stored expressions of the objects (classid, objid) in a CTE `objs` that users wrote: views'
 * and rules' actions and conditions, CHECKs (domains' too), defaults, row-level security policies;
 * and PostgreSQL's own views and rules (`own`), which a superuser may have replaced in place
 * (`CREATE OR REPLACE VIEW information_schema.x`, same OID). One by one (scalar subqueries by
 * OID), so only the reached objects' expressions are read.
 */
const TREES_OF_OBJS = `select (select w.ev_action::text || ' ' || w.ev_qual::text from pg_rewrite w where w.oid = o.objid) as tree, not ${USERS("o.objid")} as own
        from objs o where o.classid = 'pg_rewrite'::regclass
      union all select (select k.conbin::text from pg_constraint k where k.oid = o.objid), false from objs o where o.classid = 'pg_constraint'::regclass and ${USERS("o.objid")}
      union all select (select a.adbin::text from pg_attrdef a where a.oid = o.objid), false from objs o where o.classid = 'pg_attrdef'::regclass and ${USERS("o.objid")}
      union all select (select coalesce(y.polqual::text, '') || ' ' || coalesce(y.polwithcheck::text, '') from pg_policy y where y.oid = o.objid), false
        from objs o where o.classid = 'pg_policy'::regclass`;
/**
 * The functions objects name by OID: a cast's, an operator's (a user's: all OPERATOR_FUNCTIONS),
 * an operator class's support function; of PostgreSQL's own (`own`) the ones CODE_OF_OBJS finds
 * altered (ALTERED_BUILTINS). (Its operators' estimators and negators, and its types' functions:
 * systemCasts, for every statement.)
 */
const FUNCTIONS_OF_OBJS = `select c.castfunc, not ${USERS("c.oid")} from objs o join pg_cast c on o.classid = 'pg_cast'::regclass and c.oid = o.objid
      union all select x.oprcode, true from objs o join pg_operator x on o.classid = 'pg_operator'::regclass and x.oid = o.objid where not ${USERS("x.oid")}
      union all select f.fn, false from objs o join pg_operator x on o.classid = 'pg_operator'::regclass and x.oid = o.objid and ${USERS("x.oid")}
        cross join lateral ${OPERATOR_FUNCTIONS("x")} f(fn)
      union all select a.amproc, not ${USERS("a.oid")} from objs o join pg_amproc a on o.classid = 'pg_amproc'::regclass and a.oid = o.objid`;
/**
 * The user functions objects (classid, objid) in a CTE `objs` depend on, and the built-ins the
 * function rules classify that they call (RULED); PostgreSQL's own views calling the read ones
 * (pg_stat_activity's pg_stat_get_activity) are not counted, they withhold what masking cannot
 * follow (source-plans.ts). Any function they reach that is altered (ALTERED_BUILTINS) is code
 * written by users.
 */
const CODE_OF_OBJS = `select distinct n.nspname || '.' || p.proname as fn from objs o
      join pg_depend d on d.classid = o.classid and d.objid = o.objid and d.refclassid = 'pg_proc'::regclass
      join pg_proc p on p.oid = d.refobjid join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM}
    union select ${FN} from (${TREES_OF_OBJS}) t cross join lateral ${CALLED_OIDS("t.tree")} m
      join pg_proc p on p.oid = m[1]::oid join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM} or (${RULED_PROC} and not (t.own and ${RULED_READ}))
    union select ${FN} from (${FUNCTIONS_OF_OBJS}) f(oid, own) join pg_proc p on p.oid = f.oid join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM} or (${RULED_PROC} and not f.own)`;
/**
 * `= IN_RELS`: one of the relations in a CTE `rels`, as an index lookup: the work follows what
 * the statement reaches, not the size of the catalog (joined to `rels`, whose size the planner
 * cannot tell, whole catalogs were scanned).
 */
const IN_RELS = `any (array(select oid from rels))`;
/** The types of the columns of the relations in a CTE `rels`. */
const COLUMN_TYPES = `select distinct a.atttypid, 0 from pg_attribute a where a.attrelid = ${IN_RELS} and a.attnum > 0 and not a.attisdropped`;
/**
 * CTE `name` (default `types`): the types `seed` selects (oid, 0), and under each domain its base
 * type (a domain over a domain checks both), under each array its element type, under each range
 * its subtype (range_in checks each bound) and under each multirange its range, under each
 * composite type (a table's row type: `row(...)::t`, `json_populate_record(null::t, ...)`) its
 * attributes' types.
 */
const typeChain = (seed: string, name = "types") => `${name}(oid, depth) as (${seed}
      union select x.oid, ty.depth + 1 from ${name} ty join pg_type t on t.oid = ty.oid
        cross join lateral (select case when t.typtype = 'd' then t.typbasetype end
          union all select nullif(t.typelem, 0)
          union all select r.rngsubtype from pg_range r where r.rngtypid = t.oid
          union all select r.rngtypid from pg_range r where r.rngmultitypid = t.oid
          union all select a.atttypid from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0 and not a.attisdropped) x(oid)
      where x.oid is not null and ty.depth < 32)`;
/** Types of that name ($1, $2 its schema; $3, $4 for a cast's operand type). */
const typesNamed = (name: string, schema: string) => `select t.oid, 0 from pg_type t join pg_namespace s on s.oid = t.typnamespace where t.typname = ${name} and ${inSchema("s", schema)}`;
/** A type shipped with PostgreSQL (made by initdb) or an installed extension (hstore), as SYSTEM is for functions. */
const systemType = (oid: string) => `exists (select 1 from pg_type st where st.oid = ${oid}
      and (st.oid < ${FIRST_NORMAL_OID}
        or exists (select 1 from pg_depend e where e.classid = 'pg_type'::regclass and e.objid = st.oid and e.refclassid = 'pg_extension'::regclass and e.deptype = 'e')))`;
/**
 * Code a value of a type in CTE `types` runs without the statement naming it: its input/output
 * functions, the support functions and operators of its operator classes (ORDER BY, DISTINCT,
 * GROUP BY, joins compare with them).
 */
const TYPE_VALUE_CODE = `select 'pg_type'::regclass, ty.oid from types ty
      union all select 'pg_amproc'::regclass, p.oid from types ty join pg_opclass k on k.opcintype = ty.oid join pg_amproc p on p.amprocfamily = k.opcfamily
      union all select 'pg_operator'::regclass, o.amopopr from types ty join pg_opclass k on k.opcintype = ty.oid join pg_amop o on o.amopfamily = k.opcfamily`;
/**
 * ...and the casts from it that run unnamed (an IMPLICIT one in `length(col)`, an ASSIGNMENT one
 * storing it into a column; an EXPLICIT one runs only where `::x` is written, and that cast is
 * looked up itself), and the casts to it when it is a type written by users: a value of another
 * type meets it unnamed (an assignment into a column of it, `col = 'x'::text` through an implicit
 * cast), which CAST_PAIR_CODE counts on. When it is stored
 * or cast to, a domain's CHECK constraints too (TYPE_CODE), and a cast to it when one is written
 * (`x::t`, CAST_TO_CODE).
 */
const TYPE_READ_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.castsource = ty.oid and c.castcontext in ('i', 'a')
      union all select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid where not ${systemType("ty.oid")}
      union all ${TYPE_VALUE_CODE}`;
const DOMAIN_CODE = `select 'pg_constraint'::regclass, k.oid from types ty join pg_constraint k on k.contypid = ty.oid`;
const TYPE_CODE = `${DOMAIN_CODE}
      union all ${TYPE_READ_CODE}`;
const CAST_TO_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid
      union all ${TYPE_CODE}`;
/**
 * `x::t` where the text gives x's type (CTE `operands`: a literal's, another cast's): the cast
 * from that type, not every cast to t; what a value of t runs; and of the casts from t only the
 * IMPLICIT and ASSIGNMENT ones into types shipped with PostgreSQL (`length(1::t)` runs one
 * unnamed). A cast from t into a type written by users runs only where a value of that type is
 * expected, and such a value comes from a column, cast or function that is looked up itself
 * (TYPE_READ_CODE counts casts to it).
 */
const CAST_PAIR_CODE = `select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.casttarget = ty.oid join operands o on o.oid = c.castsource
      union all select 'pg_cast'::regclass, c.oid from types ty join pg_cast c on c.castsource = ty.oid where c.castcontext in ('i', 'a') and ${systemType("c.casttarget")}
      union all ${DOMAIN_CODE}
      union all ${TYPE_VALUE_CODE}`;
/**
 * Triggers a user created count whatever their function: one shipped with an extension runs
 * SQL its arguments name (refint's check_foreign_key deletes from the tables they list) or sends
 * a row's key in a NOTIFY payload (tcn). The foreign-key triggers PostgreSQL makes itself
 * (tgisinternal) run only its own RI_FKey functions.
 */
const USER_TRIGGERS = `select n.nspname || '.' || p.proname as fn from pg_trigger t
      join pg_proc p on p.oid = t.tgfoid join pg_namespace n on n.oid = p.pronamespace
    where t.tgrelid = ${IN_RELS} and not t.tgisinternal`;
/**
 * The operator classes of the partition keys and indexes of the relations in a CTE `rels`: their
 * support functions and operators run on insert routing, partition pruning and index scans,
 * whatever the column's own type (TYPE_VALUE_CODE follows that one; a class for inet on a cidr key,
 * binary coercible, only this).
 */
const KEY_OPCLASSES = `(select k.opcfamily from pg_depend d join pg_opclass k on k.oid = d.refobjid
        where d.classid = 'pg_class'::regclass and d.refclassid = 'pg_opclass'::regclass
          and d.objid = any (array(select oid from rels union all select i.indexrelid from pg_index i where i.indrelid = ${IN_RELS})))`;
const KEY_OPCLASS_CODE = `select 'pg_amproc'::regclass, p.oid from pg_amproc p where p.amprocfamily in ${KEY_OPCLASSES}
      union all select 'pg_operator'::regclass, o.amopopr from pg_amop o where o.amopfamily in ${KEY_OPCLASSES}`;
/** SQL: foreign table `f` (pg_foreign_table) of server `s` reads a program's output (FDW_PROGRAMS). */
export const RUNS_PROGRAM = `exists (select 1 from unnest(coalesce(f.ftoptions, '{}') || coalesce(s.srvoptions, '{}')) o where o like 'program=%')`;
/**
 * Foreign tables whose rows are a program's output (file_fdw's `program` option; any wrapper's,
 * on the table or its server): every scan runs a shell command on the database server.
 */
const FDW_PROGRAMS = `select 'program of ' || n.nspname || '.' || c.relname as fn from pg_foreign_table f
      join pg_foreign_server s on s.oid = f.ftserver join pg_class c on c.oid = f.ftrelid join pg_namespace n on n.oid = c.relnamespace
    where f.ftrelid = ${IN_RELS} and ${RUNS_PROGRAM}`;

/**
 * The support functions and operators' functions of operator classes users made default for a
 * type shipped with PostgreSQL, and of what users added to its operator families: a sort, a
 * grouping or a DISTINCT of a value of that type uses them, whatever expression it comes from.
 */
const SYSTEM_TYPE_OPCLASS_FUNCTIONS = `select a.amproc::oid from pg_amproc a
        where a.amprocfamily in (select k.opcfamily from pg_opclass k where ${USERS("k.oid")} and k.opcdefault and ${systemType("k.opcintype")})
          or (${USERS("a.oid")} and a.amprocfamily < ${FIRST_NORMAL_OID})
      union all select f.fn from pg_amop m join pg_operator x on x.oid = m.amopopr cross join lateral ${OPERATOR_FUNCTIONS("x")} f(fn)
        where m.amopfamily in (select k.opcfamily from pg_opclass k where ${USERS("k.oid")} and k.opcdefault and ${systemType("k.opcintype")})
          or (${USERS("m.oid")} and m.amopfamily < ${FIRST_NORMAL_OID})`;
/**
 * CTE `ruletypes`: the types the rewrite rules (`ruleFilter`) of the relations in CTE `rels`
 * name, with what they are made of: a view converting to a domain (`(a)::d`) runs its CHECKs
 * whatever its columns' types (RULE_DOMAIN_CODE).
 */
const RULE_TYPES = (ruleFilter = "") =>
  typeChain(
    `select d.refobjid, 0 from pg_depend d where d.classid = 'pg_rewrite'::regclass and d.refclassid = 'pg_type'::regclass
        and d.objid = any (array(select w.oid from pg_rewrite w where w.ev_class = ${IN_RELS}${ruleFilter}))`,
    "ruletypes",
  );
const RULE_DOMAIN_CODE = `select 'pg_constraint'::regclass, k.oid from ruletypes ty join pg_constraint k on k.contypid = ty.oid`;
/** The relations the rewrite rules of relation `r` (a view's definition, a rule's action; `ev_type` '1' for SELECT only) read or write. */
const RULE_EDGES = (ruleFilter = "") => `select d.refobjid from pg_rewrite w
        join pg_depend d on d.classid = 'pg_rewrite'::regclass and d.objid = w.oid and d.refclassid = 'pg_class'::regclass
        where w.ev_class = r.oid${ruleFilter}`;
/** Relation `r`'s partitions and inheritance children. */
const CHILD_EDGES = `select i.inhrelid from pg_inherits i where i.inhparent = r.oid`;
/** The tables whose foreign keys to relation `r` cascade an UPDATE or DELETE (or set null or the default) into them. */
const CASCADE_EDGES = `select k.conrelid from pg_constraint k
        where k.confrelid = r.oid and k.contype = 'f' and (k.confdeltype in ('c', 'n', 'd') or k.confupdtype in ('c', 'n', 'd'))`;

/**
 * The relations named $1 (in the search path) and those `edges` (a query on relation `r`) lead
 * to, 32 steps at most. Each step looks up only the relations reached, by index (a CTE of every
 * edge in the database read them all).
 */
const relsOfName = (edges: string) => `rels(oid, depth) as (
      select c.oid, 0 from pg_class c join pg_namespace s on s.oid = c.relnamespace where c.relname = $1 and ${inSchema("s")}
      union
      select e.dst, r.depth + 1 from rels r cross join lateral (${edges}) e(dst) where r.depth < 32 and e.dst <> r.oid)`;

export const USER_CODE = {
  function: `select n.nspname || '.' || p.proname as fn from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where p.proname = $1 and ${inSchema("n")} and not ${SYSTEM}`,
  operator: `select ${FN} as fn from pg_operator o join pg_namespace s on s.oid = o.oprnamespace
    cross join lateral ${OPERATOR_FUNCTIONS("o")} f(fn) join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace
    where o.oprname = $1 and ${inSchema("s")} and ${USER_OR_RULED}`,
  cast: `with recursive ${typeChain(typesNamed("$1", "$2"))},
    objs(classid, objid) as (${CAST_TO_CODE})
    ${CODE_OF_OBJS}`,
  // $3, $4: the operand's type, with its base types (a cast from a domain is looked up from its base too)
  castFrom: `with recursive ${typeChain(typesNamed("$1", "$2"))}, ${typeChain(typesNamed("$3", "$4"), "operands")},
    objs(classid, objid) as (${CAST_PAIR_CODE})
    ${CODE_OF_OBJS}`,
  // The relations a statement on one reaches: what its views and rules read or write, the
  // tables a foreign key cascades an UPDATE or DELETE into (their triggers fire too), and its
  // partitions and inheritance children (a row routed into a partition, or updated in a child
  // through its parent, fires that table's own triggers).
  relation: `with recursive ${relsOfName(`${RULE_EDGES()}
      union all ${CHILD_EDGES}
      union all ${CASCADE_EDGES}`)},
    ${typeChain(COLUMN_TYPES)},
    ${RULE_TYPES()},
    objs(classid, objid) as (
      select 'pg_rewrite'::regclass, w.oid from pg_rewrite w where w.ev_class = ${IN_RELS}
      union all select 'pg_trigger'::regclass, t.oid from pg_trigger t where t.tgrelid = ${IN_RELS}
      union all select 'pg_attrdef'::regclass, a.oid from pg_attrdef a where a.adrelid = ${IN_RELS}
      union all select 'pg_constraint'::regclass, k.oid from pg_constraint k where k.conrelid = ${IN_RELS}
      union all select 'pg_policy'::regclass, p.oid from pg_policy p where p.polrelid = ${IN_RELS}
      union all select 'pg_class'::regclass, i.indexrelid from pg_index i where i.indrelid = ${IN_RELS}
      union all select 'pg_class'::regclass, r.oid from rels r
      union all ${KEY_OPCLASS_CODE}
      union all ${TYPE_CODE}
      union all ${RULE_DOMAIN_CODE})
    ${CODE_OF_OBJS}
    union ${USER_TRIGGERS}
    union ${FDW_PROGRAMS}`,
  // What reading the relations of that name runs: views' definitions (through views over views),
  // SELECT rules, row-level security policies, what their columns' types run, the operator
  // classes of partition keys (pruning) and indexes (scans), and file_fdw programs; a scan of a
  // parent reads its partitions and inheritance children too (a superset: their own policies
  // do not apply through the parent).
  reads: `with recursive ${relsOfName(`${RULE_EDGES(" and w.ev_type = '1'")}
      union all ${CHILD_EDGES}`)},
    ${typeChain(COLUMN_TYPES)},
    ${RULE_TYPES(" and w.ev_type = '1'")},
    objs(classid, objid) as (
      select 'pg_rewrite'::regclass, w.oid from pg_rewrite w where w.ev_class = ${IN_RELS} and w.ev_type = '1'
      union all select 'pg_policy'::regclass, p.oid from pg_policy p where p.polrelid = ${IN_RELS}
      union all ${KEY_OPCLASS_CODE}
      union all ${TYPE_READ_CODE}
      union all ${RULE_DOMAIN_CODE})
    ${CODE_OF_OBJS}
    union ${FDW_PROGRAMS}`,
  // Casts between types shipped with PostgreSQL that a superuser wrote (`CREATE CAST (int8 AS text)
  // WITH FUNCTION f`) run from anywhere: built-in SQL functions cast inside (`1::int8 || 'x'` is
  // textanycat, `select $1 || $2::pg_catalog.text`), an implicit one runs in `length(1)`. So do
  // PostgreSQL's own casts whose function is altered (ALTERED_BUILTINS), its and extensions' types'
  // functions a superuser changed (`ALTER TYPE int4 SET (SEND = f)`: every binary int4 result runs
  // f; hstore's, from any function returning one), its
  // operators' (`ALTER OPERATOR = (int4, int4) SET (RESTRICT = f)`, a user's operator made the
  // negator of `@>`), the operator classes users made default for its types or added to its
  // families (`ORDER BY point(x, 0)` sorts with them), and text search parsers and templates
  // users made (`to_tsvector('cfg', ...)` names its configuration in a string).
  systemCasts: `select distinct ${FN} as fn from pg_cast c join pg_proc p on p.oid = c.castfunc join pg_namespace n on n.oid = p.pronamespace
    where (${USERS("c.oid")} and ${USER_OR_RULED} or not ${SYSTEM}) and ${systemType("c.castsource")} and ${systemType("c.casttarget")}
    union select ${FN} from pg_type t cross join lateral ${TYPE_FUNCTIONS("t")} f(fn) join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace
    where ${systemType("t.oid")} and f.fn <> 0 and not ${SYSTEM}
    union select ${FN} from pg_operator o cross join lateral ${OPERATOR_FUNCTIONS("o")} f(fn) join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace
    where o.oid < ${FIRST_NORMAL_OID} and not ${SYSTEM}
      and (greatest(o.oprcode::oid, o.oprrest::oid, o.oprjoin::oid, o.oprnegate, o.oprcom) >= ${FIRST_NORMAL_OID}
        or array[o.oprcode::oid, o.oprrest::oid, o.oprjoin::oid] && array(select oid from altered)
        or exists (select 1 from pg_operator x where x.oid in (o.oprnegate, o.oprcom) and x.oprcode::oid = any (array(select oid from altered))))
    union select ${FN} from pg_amproc a join pg_proc p on p.oid = a.amproc join pg_namespace n on n.oid = p.pronamespace
    where a.oid < ${FIRST_NORMAL_OID} and a.amproc::oid = any (array(select oid from altered))
    union select ${FN} from (${SYSTEM_TYPE_OPCLASS_FUNCTIONS}) f(fn) join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace
    where ${USER_OR_RULED}
    union select ${FN} from (select prsstart from pg_ts_parser union all select prstoken from pg_ts_parser union all select prsend from pg_ts_parser
        union all select prsheadline from pg_ts_parser union all select prslextype from pg_ts_parser
        union all select tmplinit from pg_ts_template union all select tmpllexize from pg_ts_template) f(fn)
      join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace
    where not ${SYSTEM}`,
  event: `select n.nspname || '.' || p.proname as fn from pg_event_trigger e join pg_proc p on p.oid = e.evtfoid join pg_namespace n on n.oid = p.pronamespace
    where e.evtenabled <> 'D' and not ${SYSTEM}`,
};

/**
 * Whether any object users wrote calls a built-in the function rules classify (RULED), beyond what
 * runs it: a table's CHECK or default, a rule on INSERT/UPDATE/DELETE, run only in a write, count
 * only with a rule beyond write (pg_advisory_lock, not nextval: every serial column's default).
 * PostgreSQL's own views too, with a rule beyond read (theirs call pg_stat_get_activity; one a
 * superuser replaced may call nextval). Reads every view's definition (about 20 ms on PostgreSQL
 * 15's 142): metadata.ts reads it in the background.
 */
export const RULED_CALLS = `(exists (select 1 from (
        select w.ev_action::text || ' ' || w.ev_qual::text as tree, w.ev_type <> '1' as on_write from pg_rewrite w where ${USERS("w.oid")}
        union all select w.ev_action::text, null from pg_rewrite w where not ${USERS("w.oid")} and w.ev_type = '1'
        union all select k.conbin::text, k.contypid = 0 from pg_constraint k where ${USERS("k.oid")} and k.conbin is not null
        union all select a.adbin::text, true from pg_attrdef a where ${USERS("a.oid")}
        union all select coalesce(y.polqual::text, '') || ' ' || coalesce(y.polwithcheck::text, ''), false from pg_policy y) t
      cross join lateral ${CALLED_OIDS("t.tree")} m join pg_proc p on p.oid = m[1]::oid
      where case when t.on_write is null then ${RULED_PROC} and not ${RULED_READ} when t.on_write then ${RULED_BEYOND_WRITE} else ${RULED_PROC} end)
    or exists (select 1 from (select c.castfunc from pg_cast c where ${USERS("c.oid")}
        union all select f.fn from pg_operator x cross join lateral ${OPERATOR_FUNCTIONS("x")} f(fn) where ${USERS("x.oid")}
        union all select a.amproc from pg_amproc a where ${USERS("a.oid")}) f(oid)
      join pg_proc p on p.oid = f.oid where ${RULED_PROC}))`;

/** The relations a serial upstream's sessions warm (metadata.ts warm): the database's own, bounded. */
const OWN_RELATIONS = `from pg_class c join pg_namespace s on s.oid = c.relnamespace
    where c.relkind in ('r', 'p', 'v', 'm', 'f') and s.nspname not in ('pg_catalog', 'information_schema')
      and s.nspname not like 'pg\\_toast%' and s.nspname not like 'pg\\_temp\\_%'`;
/**
 * What a serial upstream has (metadata.ts warm): the names of functions and operators written by
 * users (a lookup of any other name finds nothing), whether any type, cast, domain or operator
 * class runs a function written by users (without, every cast lookup finds nothing), and the
 * database's own relations.
 */
export const INVENTORY = `select
    array(select distinct p.proname::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace where not ${SYSTEM}) as functions,
    array(select distinct o.oprname::text from pg_operator o cross join lateral ${OPERATOR_FUNCTIONS("o")} f(fn) join pg_proc p on p.oid = f.fn join pg_namespace n on n.oid = p.pronamespace where ${USER_OR_RULED}) as operators,
    exists (select 1 from pg_depend d join pg_proc p on p.oid = d.refobjid join pg_namespace n on n.oid = p.pronamespace
      where d.refclassid = 'pg_proc'::regclass and not ${SYSTEM}
        and d.classid in ('pg_cast'::regclass, 'pg_constraint'::regclass, 'pg_amproc'::regclass, 'pg_operator'::regclass, 'pg_type'::regclass))
      or exists (select 1 from altered) or ${RULED_CALLS} as type_code,
    array(select s.nspname::text ${OWN_RELATIONS} order by c.oid limit 100) as schemas,
    array(select c.relname::text ${OWN_RELATIONS} order by c.oid limit 100) as names`;
