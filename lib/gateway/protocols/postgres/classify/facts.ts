import { asArray, dottedName, isObject, isRangeVar, rangeVarName, str, unwrap, type AstObject } from "./ast";
import { clientValue, constantText } from "./settings";

/**
 * One pass over a statement's whole parse tree collecting what matters for policy, wherever it
 * is nested: tables, function calls, data-modifying sub-statements (CTEs), row locks, EXECUTEs.
 * Iterative on purpose: parse trees of hostile input can be thousands of levels deep and a
 * recursive walk would overflow the stack.
 */

export interface StatementFacts {
  tables: Set<string>;
  /** as written: `pg_catalog.set_config`, `upper` */
  functions: Set<string>;
  /** lower-cased last name part of every call, for function rules */
  functionBases: Set<string>;
  /** an INSERT/UPDATE/DELETE/MERGE below the root (a data-modifying CTE, EXPLAIN's query) */
  nestedDml: boolean;
  /** FOR UPDATE / FOR NO KEY UPDATE / FOR SHARE / FOR KEY SHARE anywhere */
  rowLocks: boolean;
  /** names of prepared statements EXECUTEd below the root */
  executes: string[];
  /** per set_config() call, the setting it names (lower-cased), or null when not a constant */
  setConfigs: (string | null)[];
}

const DML = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

/**
 * DML targets (`relation`) and SELECT INTO / CREATE TABLE AS targets (`rel`) are always real
 * tables: PostgreSQL never resolves them to a CTE of that name.
 */
const TARGET_KEYS = new Set(["relation", "rel"]);

type Scope = ReadonlySet<string>;
const EMPTY_SCOPE: Scope = new Set();

/** `rootType` is the statement's node type ("SelectStmt"); the root itself is not "nested". */
export function collectFacts(rootType: string, root: AstObject): StatementFacts {
  const facts: StatementFacts = {
    tables: new Set(),
    functions: new Set(),
    functionBases: new Set(),
    nestedDml: false,
    rowLocks: false,
    executes: [],
    setConfigs: [],
  };
  // [value, key it was found under, CTE names visible here]
  const stack: [unknown, string, Scope][] = [[root, rootType, EMPTY_SCOPE]];
  while (stack.length) {
    const [value, key, scope] = stack.pop()!;
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], key, scope]);
      continue;
    }
    if (!isObject(value)) continue;
    const o = value;

    if (value !== root && DML.has(key)) facts.nestedDml = true;
    if (key === "ExecuteStmt") {
      const name = str(o.name);
      if (name !== undefined) facts.executes.push(name);
    }
    if (key === "FuncCall" || key === "funccall") recordFunction(facts, o);
    if (isRangeVar(o)) recordTable(facts, o, key, scope);

    let inner = scope;
    const withClause = o.withClause;
    if (isObject(withClause)) inner = pushCtes(stack, withClause, scope);
    for (const k in o) {
      if (k === "withClause") continue;
      const child = o[k];
      if (k === "lockingClause" && asArray(child).length > 0) facts.rowLocks = true;
      if (typeof child === "object" && child !== null) stack.push([child, k, inner]);
    }
  }
  return facts;
}

function recordFunction(facts: StatementFacts, call: AstObject): void {
  const name = dottedName(call.funcname);
  if (name === null) return;
  facts.functions.add(name);
  const parts = asArray(call.funcname);
  const last = unwrap(parts[parts.length - 1]);
  const base = last ? (str(last[1].sval) ?? "").toLowerCase() : "";
  if (last) facts.functionBases.add(base);
  if (base === "set_config") {
    // Only a plain positional constant names the setting for sure (not a cast, a variable, a named argument).
    const [first, value] = asArray(call.args);
    const setting = call.agg_star !== true && call.func_variadic !== true ? constantText(first) : undefined;
    // And only a value the client wrote (a constant, a Bind parameter) keeps it harmless: a value
    // computed from a table stores that data where masking does not look (SHOW, current_setting,
    // ParameterStatus, other sessions' pg_stat_activity).
    facts.setConfigs.push(setting === undefined || !clientValue(value) ? null : setting.toLowerCase());
  }
}

function recordTable(facts: StatementFacts, rv: AstObject, key: string, scope: Scope): void {
  const qualified = rv.schemaname !== undefined || rv.catalogname !== undefined;
  const relname = str(rv.relname)!;
  if (!qualified && !TARGET_KEYS.has(key) && scope.has(relname)) return; // a CTE reference
  facts.tables.add(rangeVarName(rv));
}

/**
 * CTE visibility, as PostgreSQL resolves it: without RECURSIVE the i-th CTE's body sees only
 * CTEs 0..i-1 — so `WITH customers AS (SELECT * FROM customers) ...` reads the real table in
 * its body and must still report it — while the main statement sees them all. With RECURSIVE,
 * every body sees every CTE. Returns the scope for the rest of the statement.
 */
function pushCtes(stack: [unknown, string, Scope][], withClause: AstObject, scope: Scope): Scope {
  const ctes = asArray(withClause.ctes)
    .map(unwrap)
    .filter((u): u is [string, AstObject] => u !== null && u[0] === "CommonTableExpr")
    .map((u) => u[1]);
  const names = ctes.map((c) => str(c.ctename) ?? "");
  const all: Scope = new Set([...scope, ...names]);
  ctes.forEach((cte, i) => {
    const visible = withClause.recursive === true ? all : new Set([...scope, ...names.slice(0, i)]);
    stack.push([cte, "CommonTableExpr", visible]);
  });
  return all;
}
