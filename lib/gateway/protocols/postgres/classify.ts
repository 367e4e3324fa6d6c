import type { RequestKind } from "@/lib/gateway/core/types";
import { unwrap } from "./classify/ast";
import { DEFAULT_FUNCTION_RULES, functionMatcher, type FunctionRule } from "./classify/functions";
import { maxKind } from "./classify/kinds";
import { isClassifierReady, parseSql, type ParseTree } from "./classify/parser";
import { classifyStatement, unresolvedExecuteReason } from "./classify/statement";
import type { Classification, StatementClass } from "./classify/types";

/**
 * SQL classification with the real PostgreSQL parser (libpg-query: PostgreSQL 18's grammar
 * compiled to WASM), never regular expressions: comments inside keywords, dollar quoting,
 * quoted identifiers and E'' escapes are read exactly as the server reads them.
 *
 *   await initClassifier();                  // once per process: loads the WASM
 *   const c = classifySql("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d");
 *   c.kind === "write"
 *
 * Fail-closed rules: unparseable text, unknown statement types, an EXECUTE of a prepared
 * statement the gateway cannot resolve, a DO block or CALL → "unknown", which policy holds or
 * denies. Never "read".
 */

export type { Classification, StatementClass } from "./classify/types";
export { DEFAULT_FUNCTION_RULES, type FunctionRule } from "./classify/functions";
export { KIND_ORDER, maxKind } from "./classify/kinds";

export { initClassifier, isClassifierReady } from "./classify/parser";
export { ANALYSIS_FAILED, columnSourcesOfSelect, columnSourcesOrFailure, UNKNOWN_SOURCE, type OutputColumn } from "./column-sources";

export interface ClassifyOptions {
  /** dangerous-function rules; default DEFAULT_FUNCTION_RULES (pass the same array each time) */
  functionRules?: readonly FunctionRule[];
  /** this session's prepared statements, to resolve EXECUTE (see resolvePrepared) */
  prepared?: ReadonlyMap<string, Classification>;
  /** longer text is "unknown" without parsing (default 8 MiB): parse time grows with size */
  maxLength?: number;
}

const DEFAULT_MAX_LENGTH = 8 * 1024 * 1024;

export function classifySql(text: string, opts: ClassifyOptions = {}): Classification {
  if (!isClassifierReady()) throw new Error("classifySql called before initClassifier() finished");
  // PostgreSQL answers an empty Query string with EmptyQueryResponse; nothing runs.
  if (text.length === 0) return { kind: "read", statements: [], tables: [], functions: [] };
  if (text.length > (opts.maxLength ?? DEFAULT_MAX_LENGTH)) return unclassifiable("statement is too long to classify");
  // The parser takes a C string: it would stop at a NUL and classify only the prefix.
  if (text.includes("\0")) return unclassifiable("statement contains a NUL character");

  let tree: ParseTree;
  try {
    tree = parseSql(text, "classifySql");
  } catch (err) {
    // SqlError (syntax), "memory exhausted" (deep nesting), RangeError (stack) — all unknown.
    return unclassifiable(err instanceof Error ? err.message : String(err));
  }
  try {
    const matcher = functionMatcher(opts.functionRules ?? DEFAULT_FUNCTION_RULES);
    const slicer = statementSlicer(text);
    const statements: StatementClass[] = [];
    for (const raw of tree.stmts ?? []) {
      const u = unwrap(raw.stmt);
      if (!u) return unclassifiable("parser returned a statement without a type");
      statements.push(classifyStatement(u[0], u[1], slicer(raw.stmt_location ?? 0, raw.stmt_len ?? 0), matcher));
    }
    const c = combine(statements);
    return resolvePrepared(c, opts.prepared ?? NONE_PREPARED);
  } catch (err) {
    // A classifier bug must not become an allow: report it as unclassifiable.
    return unclassifiable(`internal classifier error: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const NONE_PREPARED: ReadonlyMap<string, Classification> = new Map();

/**
 * Resolves EXECUTE statements against the session's prepared statements. The session keeps
 * one map for both SQL `PREPARE name AS ...` (see preparedDefinitions) and protocol-level
 * Parse messages with a name — PostgreSQL keeps them in one namespace, so `EXECUTE foo` runs a
 * statement Parse'd as "foo" and vice versa. An unknown name stays "unknown".
 *
 * A PREPARE or DEALLOCATE earlier in the same string counts for the EXECUTEs after it
 * (`prepare p as ...; execute p`): PostgreSQL runs the statements of one Query in order and
 * stops at the first error, so an EXECUTE after a PREPARE that failed never runs.
 */
export function resolvePrepared(c: Classification, prepared: ReadonlyMap<string, Classification>): Classification {
  if (!c.statements.some((s) => s.executes.length > 0)) return c;
  /** this string's own PREPAREs and DEALLOCATEs so far (null: deallocated); `cleared`: DEALLOCATE ALL / DISCARD ALL ran */
  const own = new Map<string, Classification | null>();
  let cleared = false;
  const lookup = (name: string) => (own.has(name) ? (own.get(name) ?? undefined) : cleared ? undefined : prepared.get(name));
  const statements = c.statements.map((s): StatementClass => {
    const resolved = resolveExecutes(s, lookup);
    if (s.deallocates?.all) {
      own.clear();
      cleared = true;
    } else if (s.deallocates) own.set(s.deallocates.name, null);
    if (s.prepare) own.set(s.prepare.name, combine([s.prepare.statement]));
    return resolved;
  });
  return { ...combine(statements), ...(c.parseError ? { parseError: c.parseError } : {}) };
}

function resolveExecutes(s: StatementClass, lookup: (name: string) => Classification | undefined): StatementClass {
  if (s.executes.length === 0) return s;
  let kind = s.ownKind;
  const tables = new Set(s.tables);
  const functions = new Set(s.functions);
  const pending = new Set(s.executes.map(unresolvedExecuteReason));
  const reasons = s.reasons.filter((r) => !pending.has(r));
  let dataModifying = s.dataModifying;
  for (const name of s.executes) {
    const p = lookup(name);
    if (!p) {
      kind = "unknown";
      reasons.push(`EXECUTE ${name}: no prepared statement of that name is known to the gateway`);
      continue;
    }
    kind = maxKind(kind, p.kind);
    p.tables.forEach((t) => tables.add(t));
    p.functions.forEach((f) => functions.add(f));
    dataModifying ||= p.statements.some((st) => st.dataModifying);
    reasons.push(`EXECUTE ${name} runs a prepared ${p.kind} statement`);
  }
  return { ...s, kind, tables: [...tables].sort(), functions: [...functions].sort(), dataModifying, reasons };
}

/**
 * The prepared statements a classified string defines (PREPARE name AS ...), as map entries
 * for resolvePrepared. Store them only after the server confirmed (CommandComplete "PREPARE"):
 * a PREPARE that failed defines nothing.
 */
export function preparedDefinitions(c: Classification): [string, Classification][] {
  return c.statements.flatMap((s) => (s.prepare ? [[s.prepare.name, combine([s.prepare.statement])] as [string, Classification]] : []));
}

function combine(statements: StatementClass[]): Classification {
  let kind: RequestKind = "read";
  const tables = new Set<string>();
  const functions = new Set<string>();
  for (const s of statements) {
    kind = maxKind(kind, s.kind);
    s.tables.forEach((t) => tables.add(t));
    s.functions.forEach((f) => functions.add(f));
  }
  return { kind, statements, tables: [...tables].sort(), functions: [...functions].sort() };
}

function unclassifiable(parseError: string): Classification {
  return { kind: "unknown", statements: [], tables: [], functions: [], parseError };
}

/** stmt_location/stmt_len are byte offsets into the UTF-8 text; 0 length means "to the end". */
function statementSlicer(text: string): (location: number, length: number) => string {
  const ascii = Buffer.byteLength(text) === text.length;
  const bytes = ascii ? null : Buffer.from(text);
  return (location, length) => {
    const end = length > 0 ? location + length : undefined;
    const s = bytes ? bytes.subarray(location, end ?? bytes.length).toString("utf8") : text.slice(location, end);
    return s.trim();
  };
}
