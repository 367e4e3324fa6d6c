import { asArray, baseFunctionName, isObject, isRangeVar, str, stringValue, unwrap, type AstObject } from "./classify/ast";
import { DEFAULT_FUNCTION_RULES, functionMatcher, type FunctionRule } from "./classify/functions";
import { maxKind } from "./classify/kinds";
import { BUILTIN_PREFIX } from "./user-code-queries";
import { parseSql } from "./classify/parser";
import { withCatalogTables, writtenTables } from "./catalog-tables";
import { Lru, shapeKey } from "./classify-cache";
import { actionOf } from "@/lib/gateway/core/classify";
import type { ClassifiedRequest, RequestKind } from "@/lib/gateway/core/types";
import type { UpstreamMetadata } from "./metadata";

/**
 * Code the statement runs that is not in its text: a user-defined function, procedure,
 * aggregate, operator or cast it calls, and the triggers, rules, defaults, constraints,
 * row-level security policies and index expressions of the relations it names (views'
 * definitions included), and for DDL the database's event triggers. Such code can read a masked column and return it under a name masking
 * does not know (`SELECT my_func()` where my_func is `SELECT ssn FROM people`), or copy it into
 * a table that is not masked (a trigger, a CALL); its body is not something the gateway can
 * follow (plpgsql builds SQL at run time). So under masking a statement that would run any is
 * refused (session.ts refuseStore, 0A000): only code shipped with PostgreSQL (made by initdb,
 * user-code-queries.ts SYSTEM) or an installed extension runs.
 *
 *   codeNamesOf("SELECT public.f(x) FROM t WHERE a ### 1")
 *   → { function: [{ schema: "public", name: "f" }], operator: [{ name: "###" }], cast: [], relation: [{ name: "t" }] }
 */

export interface Name {
  schema?: string;
  name: string;
  /** a cast's operand type, when the text gives it (operandType): only the cast from it runs */
  from?: Name;
}

const KINDS = ["function", "operator", "cast", "relation"] as const;

/**
 * `populates`: the statement converts a value into a relation's row type without naming the type
 * (`jsonb_populate_record(t, ...)` over a row of t, hstore's `#=`): that runs the CHECKs of its
 * columns' domains, which only a write would otherwise, so its relations are looked up as a write's.
 */
export type CodeNames = Record<(typeof KINDS)[number], Name[]> & { populates?: true };

/** Built-ins that convert into the row type of their first argument (hstore's populate_record too). */
const POPULATES = new Set(["json_populate_record", "json_populate_recordset", "jsonb_populate_record", "jsonb_populate_recordset", "jsonb_populate_record_valid", "populate_record"]);

/**
 * Names a statement's text uses, following EXECUTE into the prepared statement's text; null when
 * it does not parse, or calls a built-in that converts to a type chosen at run time (TYPE_BY_OID).
 */
export function codeNamesOf(text: string, prepared: (name: string) => string | null = () => null, depth = 0): CodeNames | null {
  let stmts: unknown;
  try {
    stmts = parseSql(text, "codeNamesOf").stmts ?? [];
  } catch {
    return null;
  }
  const out: CodeNames = { function: [], operator: [], cast: [], relation: [] };
  // `prepare p as ...; execute p`: that EXECUTE runs what this text's PREPARE defines, whose names
  // the walk collects from the PREPARE itself (the session's p is not yet that statement).
  const preparedHere = new Set<string>();
  for (const raw of asArray(stmts)) {
    if (!walkNames(raw, out, preparedHere, prepared, depth)) return null;
    const stmt = isObject(raw) ? unwrap(raw.stmt) : null;
    if (stmt?.[0] === "PrepareStmt") preparedHere.add(str(stmt[1].name) ?? "");
  }
  return out;
}

/** Adds the names one statement uses to `out`; false when it cannot be analysed (codeNamesOf). */
function walkNames(root: unknown, out: CodeNames, preparedHere: ReadonlySet<string>, prepared: (name: string) => string | null, depth: number): boolean {
  // Iterative: hostile parse trees can be thousands of levels deep.
  const stack: unknown[] = [root];
  while (stack.length) {
    const v = stack.pop();
    if (Array.isArray(v)) {
      stack.push(...v);
      continue;
    }
    if (!isObject(v)) continue;
    for (const [type, n] of nodes(v)) {
      if (type === "FuncCall" || type === "funccall") {
        // A type chosen at run time (domain_in(x, 'checked'::regtype, -1)) runs its CHECKs unnamed.
        if (TYPE_BY_OID.has(baseFunctionName(n.funcname) ?? "")) return false;
        if (POPULATES.has(baseFunctionName(n.funcname) ?? "")) out.populates = true;
        add(out.function, qualified(n.funcname));
      } else if (type === "TruncateStmt" && n.behavior === "DROP_CASCADE") {
        // It also empties every table with a foreign key to these (whatever its ON DELETE), and fires their TRUNCATE triggers: not named.
        return false;
      } else if (type === "A_Expr" && asArray(n.name).length) {
        // BETWEEN is named "BETWEEN" in the tree; PostgreSQL runs >= and <= (NOT BETWEEN: < and >)
        const between = BETWEEN_OPERATORS[str(n.kind) ?? ""];
        const op = between ? null : qualified(n.name);
        for (const o of between ?? [op]) add(out.operator, o);
        if (op?.name === "#=") out.populates = true;
      }
      // Operators PostgreSQL looks up by name that the text does not spell: `CASE x WHEN v` and
      // `JOIN ... USING` / NATURAL compare with `=`, `x IN (SELECT ...)` too (`x op ANY (SELECT ...)` names its op).
      else if ((type === "CaseExpr" && n.arg) || (type === "JoinExpr" && (asArray(n.usingClause).length || n.isNatural === true))) add(out.operator, { name: "=" });
      else if (type === "SubLink" && ["ANY_SUBLINK", "ALL_SUBLINK", "ROWCOMPARE_SUBLINK"].includes(str(n.subLinkType) ?? "")) {
        add(out.operator, asArray(n.operName).length ? qualified(n.operName) : { name: "=" });
      }
      else if (type === "SortBy" && asArray(n.useOp).length) add(out.operator, qualified(n.useOp)); // ORDER BY x USING ###
      else if (type === "PrepareStmt") {
        // Its parameters' types, bare TypeNames: an EXECUTE converts its arguments to them (a domain's CHECK runs).
        for (const t of asArray(n.argtypes)) add(out.cast, qualified((unwrap(t)?.[1] as AstObject | undefined)?.names));
      } else if (type === "ExecuteStmt" && !preparedHere.has(str(n.name) ?? "")) {
        const inner = depth < 4 ? prepared(str(n.name) ?? "") : null;
        const names = inner === null ? null : codeNamesOf(inner, prepared, depth + 1);
        if (names === null) return false;
        for (const k of KINDS) for (const x of names[k]) add(out[k], x);
        if (names.populates) out.populates = true;
      }
      // A type named anywhere: a cast, a column definition list (`json_to_record(...) AS x(a checked)`).
      if (isObject(n.typeName)) add(out.cast, castName(type, n));
    }
    if (isRangeVar(v)) add(out.relation, { ...(str(v.schemaname) ? { schema: str(v.schemaname) } : {}), name: str(v.relname)! });
    for (const k in v) if (typeof v[k] === "object" && v[k] !== null) stack.push(v[k]);
  }
  return true;
}

/** The operators a BETWEEN runs, by A_Expr kind. */
const BETWEEN_OPERATORS: Record<string, Name[]> = {
  AEXPR_BETWEEN: [{ name: ">=" }, { name: "<=" }],
  AEXPR_BETWEEN_SYM: [{ name: ">=" }, { name: "<=" }],
  AEXPR_NOT_BETWEEN: [{ name: "<" }, { name: ">" }],
  AEXPR_NOT_BETWEEN_SYM: [{ name: "<" }, { name: ">" }],
};

/**
 * Built-ins that convert a value to a type given by OID at run time: for a domain (or a composite
 * or array made of one) they run its CHECKs, and which type it is the text does not say.
 */
const TYPE_BY_OID = new Set(["domain_in", "domain_recv", "record_in", "record_recv", "array_in", "array_recv", "range_in", "range_recv", "multirange_in", "multirange_recv", "pg_input_is_valid", "pg_input_error_info"]);

/** The type a node names; for `x::t` whose operand's type the text gives, with that type. */
function castName(type: string, n: AstObject): Name | null {
  const target = qualified((n.typeName as AstObject).names);
  const from = type === "TypeCast" && !isArrayType(n.typeName) ? operandType(n.arg) : null;
  return target && from ? { ...target, from } : target;
}

/**
 * The type of a cast's operand when the text alone gives it, or null (a column, a function's
 * result, a parameter: then every cast to the target counts). A quoted literal or NULL is of type
 * unknown, which the target type's input function reads: no cast from it exists. A number is int4
 * only when the parser says so (a larger one is int8 or numeric by its size: not guessed).
 */
function operandType(arg: unknown): Name | null {
  const u = unwrap(arg);
  if (!u) return null;
  const [type, n] = u;
  if (type === "A_Const") {
    if (n.isnull === true || isObject(n.sval)) return { schema: "pg_catalog", name: "unknown" };
    if (isObject(n.ival)) return { schema: "pg_catalog", name: "int4" };
    if (isObject(n.boolval)) return { schema: "pg_catalog", name: "bool" };
    return null;
  }
  return type === "TypeCast" && !isArrayType(n.typeName) ? qualified((n.typeName as AstObject | undefined)?.names) : null;
}

function isArrayType(typeName: unknown): boolean {
  return !isObject(typeName) || asArray(typeName.arrayBounds).length > 0;
}

/** A node wrapper `{ Type: {...} }`, or a bare concrete field (`funccall` of CALL). */
function nodes(v: AstObject): [string, AstObject][] {
  const u = unwrap(v);
  if (u) return [u];
  return isObject(v.funccall) ? [["funccall", v.funccall as AstObject]] : [];
}

function qualified(parts: unknown): Name | null {
  const names = asArray(parts).map(stringValue);
  if (names.length === 0 || names.some((p) => p === undefined)) return null;
  const name = names[names.length - 1]!;
  // pg_catalog.int4 / `OPERATOR(pg_catalog.+)`: a two-part name is schema.name; three parts add a database.
  return names.length > 1 ? { schema: names[names.length - 2], name } : { name };
}

function add(list: Name[], n: Name | null) {
  if (n && !list.some((x) => sameName(x, n) && (x.from === n.from || (!!x.from && !!n.from && sameName(x.from, n.from))))) list.push(n);
}

function sameName(a: Name, b: Name): boolean {
  return a.name === b.name && a.schema === b.schema;
}

type Found = { kind: keyof CodeNames | "systemCasts" | "event"; n: Name; code: string[] };

/**
 * The first name in `names` that runs code written in the database, or a built-in the function
 * rules classify that `counts` (user-code-queries.ts RULED: `builtin:pg_catalog.nextval` behind a
 * view); relations are looked up as `relation` (all a statement on them can run) or `reads` (what
 * reading them runs). Throws when the catalog cannot be read.
 */
async function findUserCode(names: CodeNames, metadata: UpstreamMetadata, relations: "relation" | "reads", events: boolean, counts: (rule: FunctionRule) => boolean): Promise<Found | undefined> {
  const lookups = KINDS.flatMap((k) => names[k].map(async (n): Promise<Found> => ({ kind: k, n, code: await metadata.userCode(k === "relation" ? relations : k, n) })));
  // Casts between built-in types run from any statement (metadata.ts systemCasts).
  const everywhere = events ? (["systemCasts", "event"] as const) : (["systemCasts"] as const);
  for (const kind of everywhere) lookups.push(metadata.userCode(kind, { name: "" }).then((code) => ({ kind, n: { name: "" }, code })));
  const matcher = functionMatcher(DEFAULT_FUNCTION_RULES);
  const kept = (fn: string) => {
    if (!fn.startsWith(BUILTIN_PREFIX)) return true;
    const rule = matcher.match(fn.slice(fn.lastIndexOf(".") + 1));
    return rule !== null && counts(rule);
  };
  for (const f of await Promise.all(lookups)) {
    const code = f.code.filter(kept);
    if (code.length > 0) return { ...f, code };
  }
  return undefined;
}

function described(hit: Found): string {
  const what =
    hit.kind === "relation"
      ? `${hit.n.name} (its triggers, rules, defaults, policies, column types or view definition)`
      : hit.kind === "event"
        ? "an event trigger this DDL fires"
        : hit.kind === "systemCasts"
          ? "a cast between built-in types, which any statement may run"
          : `the ${hit.kind} ${hit.n.name}`;
  const code = hit.code.slice(0, 3).map((fn) => (fn.startsWith(BUILTIN_PREFIX) ? `the built-in ${fn.slice(BUILTIN_PREFIX.length)}` : fn));
  return `code written in the database (${code.join(", ")}, through ${what})`;
}

/**
 * Why a statement under masking must not run because it runs user-written code, or null.
 * Throws when the catalog cannot be read (the caller refuses: fail closed).
 */
export async function userCodeRefusal(text: string, metadata: UpstreamMetadata, prepared: (name: string) => string | null, kind: RequestKind): Promise<string | null> {
  const names = codeNamesOf(text, prepared);
  if (names === null) return "it cannot be analysed for the code it runs";
  const matcher = functionMatcher(DEFAULT_FUNCTION_RULES);
  for (const f of names.function) {
    const rule = matcher.match(f.name.toLowerCase());
    if (rule?.unmaskable) return `it calls ${f.name}, which ${rule.why}: masking cannot follow what it returns`;
  }
  // A read runs what reading its relations runs: their triggers fire only on writes (a row lock
  // is kind write), so a SELECT of a table with moddatetime's trigger is masked, not refused.
  // DDL (and what may run DDL) fires the database's event triggers.
  // A built-in counts here when masking cannot follow what it returns (dblink behind a view).
  const hit = await findUserCode(names, metadata, kind === "read" && !names.populates ? "reads" : "relation", kind !== "read" && kind !== "write", (rule) => rule.unmaskable === true);
  return hit ? `it runs ${described(hit)}, which can return or copy masked values where masking does not follow them` : null;
}

/**
 * `req` as policy must see it: its tables completed from the catalog (catalog-tables.ts: every
 * spelling of a table, what a view reads), and "unknown" when it calls code written in the
 * database (userCodeCalled), or when the catalog cannot be read to tell (fail closed).
 */
export async function withUserCode(metadata: UpstreamMetadata, req: ClassifiedRequest, prepared: (name: string) => string | null = () => null): Promise<ClassifiedRequest> {
  // Policy on tables must not be dodged by spelling one differently or reading it through a view.
  try {
    req = await withCatalogTables(req, (ref) => metadata.relations(ref));
  } catch (err) {
    if (!metadata.servesOneTransaction) return asUnknown(req, `the upstream catalog could not be read (${(err as Error).message})`);
    req = { ...req, tables: writtenTables(req.tables) };
  }
  if (req.kind === "unknown" || !metadata.mayHaveUserCode()) return req;
  const why = await userCodeCalled(req.text, metadata, prepared, req.kind).catch((err: Error) => `the upstream catalog could not be read (${err.message})`);
  return why ? asUnknown(req, why) : req;
}

export function asUnknown(req: ClassifiedRequest, why: string): ClassifiedRequest {
  return { ...req, kind: "unknown", action: actionOf("unknown"), kindWhy: why };
}

/**
 * Why a statement is "unknown" whatever its text says, or null: it calls code written in the
 * database (a function, operator or cast, or through a view, a row-level security policy or an
 * implicit cast of a column's type), which may write, run DDL or change settings. Volatility does
 * not tell: PostgreSQL refuses an INSERT in a STABLE function's body, not in a function it calls.
 * A write runs more than a read of the same tables: their triggers (and those of the tables a
 * foreign key cascades into), rules, defaults, constraints and domain CHECKs. Such code can write
 * to tables the policy does not allow, so a write that fires any is no plain write either; nor is
 * DDL while the database has an enabled event trigger written by users (it runs on every DDL).
 * Throws when the catalog cannot be read (the caller takes the statement as unknown).
 */
export async function userCodeCalled(text: string, metadata: UpstreamMetadata, prepared: (name: string) => string | null, kind: RequestKind = "read"): Promise<string | null> {
  const names = codeNamesCached(text, prepared);
  if (names === null) return "it cannot be analysed for the code it runs";
  // A built-in counts when it does more than the statement: nextval behind a view a read selects
  // from, not in the default of a column a write fills.
  const hit = await findUserCode(names, metadata, kind === "write" || names.populates ? "relation" : "reads", kind === "ddl", (rule) => maxKind(kind, rule.kind) !== kind);
  return hit ? `it runs ${described(hit)}, which the gateway cannot tell ${kind === "read" ? "reads only" : "does only what the statement says"}` : null;
}

/** Every statement asks userCodeCalled: names kept per text shape (integers do not change them), as classify-cache.ts does. */
const namesByShape = new Lru<CodeNames>(1000);

function codeNamesCached(text: string, prepared: (name: string) => string | null): CodeNames | null {
  if (text.length > 4096) return codeNamesOf(text, prepared);
  const key = shapeKey(text) ?? text;
  const hit = namesByShape.get(key);
  if (hit) return hit;
  let executes = false; // an EXECUTE's names depend on the session's prepared statements: not kept
  const names = codeNamesOf(text, (name) => ((executes = true), prepared(name)));
  if (names && !executes) namesByShape.set(key, names);
  return names;
}
