import { asArray, baseFunctionName, isObject, rangeVarName, str, stringValue, unwrap, type AstObject } from "./classify/ast";
import { figureColname, isPassThrough } from "./classify/derivation";
import { expandLevelStar, findCte, newLevel, renameColumns, resolveColumnRef, UNKNOWN_SOURCE, type Level, type OutputColumn, type Rel } from "./classify/scope";
import { isClassifierReady, parseSql } from "./classify/parser";

/**
 * Column derivations for masking: for each output column of a query, the source columns its
 * value is computed from, so a rule on customers.ssn still applies to `encode(ssn::bytea,'hex')`,
 * `ssn || ''`, `string_agg(ssn, ',')`, `row_to_json(c)` or `(SELECT ssn FROM ...)`.
 *
 *   columnSourcesOfSelect("SELECT upper(c.email) AS e FROM customers c")
 *   → [{ name: "e", sources: ["customers.email"] }]
 *
 * Best effort, and a superset by design: every column an expression mentions counts (CASE
 * conditions and window ORDER BY included); an unqualified column with several tables in
 * scope yields one candidate per table; a call to a function that is not a known
 * pass-through built-in adds "unknown" (its value can come from anywhere), and so does
 * anything unresolvable. "unknown" means: apply value detectors to this column as well.
 *
 * Star items (`*`, `t.*`) expand to an unknown number of result columns: they appear as one
 * entry with `star: true`. Align with RowDescription by position up to the first star and
 * from the end after the last one; columns a star covers also carry their table OID/attnum in
 * RowDescription, which masking should prefer.
 *
 * Accepts SELECT/VALUES, INSERT/UPDATE/DELETE/MERGE ... RETURNING, COPY ... TO, DECLARE
 * CURSOR and PREPARE (its statement — EXECUTE reuses it without a new RowDescription).
 * Returns null when the text does not parse, is not exactly one such statement, or the
 * analysis fails — callers then rely on detectors alone. Masking a result uses
 * columnSourcesOrFailure, which tells a failed analysis apart (its result is withheld).
 */

export { UNKNOWN_SOURCE, type OutputColumn } from "./classify/scope";

export function columnSourcesOfSelect(text: string): OutputColumn[] | null {
  const out = columnSourcesOrFailure(text);
  return out === ANALYSIS_FAILED ? null : out;
}

/** columnSourcesOrFailure's answer when the text does not parse or its analysis threw. */
export const ANALYSIS_FAILED = "analysis-failed" as const;

/**
 * columnSourcesOfSelect for masking a result: null only when the statement has no derivation
 * (SHOW, EXPLAIN, not exactly one statement); ANALYSIS_FAILED when the text does not parse or
 * the analysis throws. A hostile parse tree thousands of levels deep (`upper(upper(...(ssn)))`,
 * which PostgreSQL runs) overflows the recursive walk: its columns' lineage is not known, so the
 * caller must withhold what has no table origin rather than fall back to detectors alone.
 */
export function columnSourcesOrFailure(text: string): OutputColumn[] | null | typeof ANALYSIS_FAILED {
  if (!isClassifierReady()) throw new Error("columnSourcesOfSelect called before initClassifier() finished");
  if (text.length === 0 || text.includes("\0")) return null;
  try {
    const stmts = parseSql(text, "columnSourcesOfSelect").stmts ?? [];
    if (stmts.length !== 1) return null;
    const u = unwrap(stmts[0].stmt);
    const out = u ? statementColumns(u[0], u[1], null) : null;
    return out?.map((c) => ({ ...c, sources: [...new Set(c.sources)].sort() })) ?? null;
  } catch {
    return ANALYSIS_FAILED;
  }
}

/** Output columns of one parsed statement (exported for stored-sources.ts). */
export function statementColumns(type: string, node: AstObject, parent: Level | null): OutputColumn[] | null {
  switch (type) {
    case "SelectStmt":
      return selectColumns(node, parent);
    case "InsertStmt":
    case "UpdateStmt":
    case "DeleteStmt":
    case "MergeStmt":
      return returningColumns(type, node, parent);
    case "CopyStmt": {
      const q = unwrap(node.query);
      if (q) return statementColumns(q[0], q[1], parent);
      if (!isObject(node.relation) || node.is_from === true) return null;
      const table = rangeVarName(node.relation);
      const cols = asArray(node.attlist).map(stringValue).filter((c): c is string => c !== undefined);
      return cols.length ? cols.map((c) => ({ name: c, sources: [`${table}.${c}`] })) : [{ name: "*", sources: [`${table}.*`], star: true }];
    }
    case "DeclareCursorStmt":
    case "PrepareStmt": {
      const q = unwrap(node.query);
      return q ? statementColumns(q[0], q[1], parent) : null;
    }
    default:
      return null;
  }
}

function selectColumns(node: AstObject, parent: Level | null): OutputColumn[] {
  const level = newLevel(parent);
  if (isObject(node.withClause)) addCtes(level, node.withClause);
  if (node.op !== undefined && node.op !== "SETOP_NONE") {
    const l = isObject(node.larg) ? selectColumns(node.larg, level) : [];
    const r = isObject(node.rarg) ? selectColumns(node.rarg, level) : [];
    return unionPositional(l, r);
  }
  const values = asArray(node.valuesLists);
  if (values.length) {
    const rows = values.map((v) => asArray(unwrap(v)?.[1].items));
    return rows[0].map((_, i) => ({ name: `column${i + 1}`, sources: rows.flatMap((row) => exprSources(row[i], level)) }));
  }
  for (const item of asArray(node.fromClause)) addFrom(level, item);
  return asArray(node.targetList).flatMap((t) => targetColumns(t, level));
}

function returningColumns(type: string, node: AstObject, parent: Level | null): OutputColumn[] {
  const level = newLevel(parent);
  if (isObject(node.withClause)) addCtes(level, node.withClause);
  let table: Extract<Rel, { kind: "table" }> | null = null;
  if (isObject(node.relation)) {
    table = { kind: "table", name: rangeVarName(node.relation), renamed: false };
    const alias = str((node.relation.alias as AstObject | undefined)?.aliasname) ?? str(node.relation.relname) ?? null;
    // PostgreSQL 18: RETURNING old.* / new.* name the target row before and after.
    level.rels.push({ alias, rel: table }, { alias: "old", rel: table, qualifiedOnly: true }, { alias: "new", rel: table, qualifiedOnly: true });
  }
  for (const item of [...asArray(node.fromClause), ...asArray(node.usingClause), node.sourceRelation]) if (item) addFrom(level, item);
  const written = writtenSources(type, node, level);
  if (table && written.length) table.written = written;
  const returning = isObject(node.returningClause) ? asArray(node.returningClause.exprs) : asArray(node.returningList);
  return returning.flatMap((t) => targetColumns(t, level));
}

/**
 * Every source of what the statement stores: UPDATE's SET values, INSERT's rows (and ON
 * CONFLICT DO UPDATE's SET, where `excluded` is the row proposed), MERGE's actions. A superset:
 * which column each value lands in is not followed (an INSERT without a column list needs the
 * catalog for that), so a returned column of the target carries all of them.
 */
function writtenSources(type: string, node: AstObject, level: Level): string[] {
  if (type === "UpdateStmt") return exprSources(node.targetList, level);
  if (type === "MergeStmt") return exprSources(node.mergeWhenClauses, level);
  if (type !== "InsertStmt") return [];
  const q = unwrap(node.selectStmt);
  // The rows inserted do not see the target table: only the statement's CTEs.
  const outer: Level = { rels: [], ctes: level.ctes, parent: level.parent };
  const rows = q ? (statementColumns(q[0], q[1], outer)?.flatMap((c) => c.sources) ?? [UNKNOWN_SOURCE]) : [];
  const conflict = isObject(node.onConflictClause) ? node.onConflictClause : null;
  if (!conflict) return [...new Set(rows)];
  level.rels.push({ alias: "excluded", rel: { kind: "opaque", sources: rows }, qualifiedOnly: true });
  return [...new Set([...rows, ...exprSources(conflict.targetList, level)])];
}

export function addCtes(level: Level, withClause: AstObject): void {
  const ctes = asArray(withClause.ctes).map((c) => unwrap(c)?.[1]).filter(isObject);
  const columnsOf = (c: AstObject) => {
    const q = unwrap(c.ctequery);
    return q ? statementColumns(q[0], q[1], level) : null;
  };
  if (withClause.recursive === true) {
    // A CTE may reference itself, and its recursive part may move a value to another column
    // (`SELECT b, a FROM r`): a self-reference carries everything any of them computes. One
    // pass with unknown self-references finds every source that enters; the real pass uses it.
    for (const c of ctes) level.ctes.set(str(c.ctename) ?? "", { kind: "opaque" });
    const entering = ctes.flatMap((c) => columnsOf(c)?.flatMap((col) => col.sources) ?? []);
    for (const c of ctes) level.ctes.set(str(c.ctename) ?? "", { kind: "opaque", sources: [...new Set(entering)] });
  }
  for (const c of ctes) {
    const cols = columnsOf(c);
    const rel: Rel = cols ? { kind: "derived", columns: cols } : { kind: "opaque" };
    level.ctes.set(str(c.ctename) ?? "", renameColumns(rel, names(c.aliascolnames)));
  }
}

export function addFrom(level: Level, item: unknown): Rel[] {
  const u = unwrap(item);
  if (!u) return [];
  const [type, n] = u;
  const alias = isObject(n.alias) ? n.alias : null;
  const aliasName = str(alias?.aliasname) ?? null;
  const colnames = names(alias?.colnames);
  let rel: Rel;
  let key = aliasName;
  switch (type) {
    case "RangeVar": {
      const relname = str(n.relname) ?? "";
      const cte = n.schemaname === undefined && n.catalogname === undefined ? findCte(level, relname) : null;
      rel = renameColumns(cte ?? { kind: "table", name: rangeVarName(n), renamed: false }, colnames);
      key ??= relname;
      break;
    }
    case "RangeSubselect": {
      const q = unwrap(n.subquery);
      const cols = q ? statementColumns(q[0], q[1], level) : null;
      rel = renameColumns(cols ? { kind: "derived", columns: cols } : { kind: "opaque" }, colnames);
      break;
    }
    case "JoinExpr": {
      const first = level.rels.length;
      const rels = [...addFrom(level, n.larg), ...addFrom(level, n.rarg)];
      // USING / NATURAL: `*` puts the merged columns first (a FULL join's are COALESCEs of both)
      const merged = n.isNatural === true || asArray(n.usingClause).length > 0;
      for (const r of level.rels.slice(first)) {
        if (merged) r.merged = first;
        if (aliasName !== null) r.hidden = true;
      }
      if (aliasName === null) return rels;
      rel = merged ? { kind: "join", rels, merged } : { kind: "join", rels };
      break;
    }
    case "RangeTableSample":
      return addFrom(level, n.relation);
    case "RangeFunction": {
      const first = unwrap(asArray(unwrap(asArray(n.functions)[0])?.[1].items)[0]);
      key ??= first && first[0] === "FuncCall" ? baseFunctionName(first[1].funcname) : null;
      rel = { kind: "opaque", sources: exprSources(item, level) };
      break;
    }
    default:
      // XMLTABLE, JSON_TABLE: columns computed from the arguments.
      rel = { kind: "opaque", sources: exprSources(item, level) };
  }
  level.rels.push({ alias: key, rel });
  return [rel];
}

function targetColumns(target: unknown, level: Level): OutputColumn[] {
  const rt = unwrap(target)?.[1];
  if (!rt) return [{ name: "?column?", sources: [UNKNOWN_SOURCE] }];
  const ref = unwrap(rt.val);
  // `(expr).*`: as many result columns as the composite has
  if (ref && ref[0] === "A_Indirection" && unwrap(asArray(ref[1].indirection).at(-1))?.[0] === "A_Star") {
    return [{ name: "*", sources: exprSources(rt.val, level), star: true }];
  }
  if (ref && ref[0] === "ColumnRef") {
    const fields = asArray(ref[1].fields);
    if (unwrap(fields[fields.length - 1])?.[0] === "A_Star") {
      const parts = fields.slice(0, -1).map(stringValue);
      if (parts.length === 0) return expandLevelStar(level);
      const sources = resolveColumnRef(parts.filter((p): p is string => p !== undefined), true, level);
      return [{ name: "*", sources, star: true }];
    }
  }
  return [{ name: str(rt.name) ?? figureColname(rt.val), sources: exprSources(rt.val, level) }];
}

/** Every source an expression's value may carry (see the file comment for the rules). */
export function exprSources(node: unknown, level: Level): string[] {
  const out: string[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isObject(v)) return;
    const u = unwrap(v);
    if (u?.[0] === "ColumnRef") {
      const fields = asArray(u[1].fields);
      const star = unwrap(fields[fields.length - 1])?.[0] === "A_Star";
      const parts = (star ? fields.slice(0, -1) : fields).map(stringValue);
      if (parts.some((p) => p === undefined)) out.push(UNKNOWN_SOURCE);
      else out.push(...resolveColumnRef(parts as string[], star, level));
      return;
    }
    if (u?.[0] === "FuncCall" && !isPassThrough(u[1].funcname)) out.push(UNKNOWN_SOURCE);
    if (u?.[0] === "SubLink") {
      visit(u[1].testexpr);
      const q = unwrap(u[1].subselect);
      const cols = q ? statementColumns(q[0], q[1], level) : null;
      out.push(...(cols ? cols.flatMap((c) => c.sources) : [UNKNOWN_SOURCE]));
      return;
    }
    for (const k in v) visit(v[k]);
  };
  visit(node);
  return [...new Set(out)].sort();
}

function unionPositional(l: OutputColumn[], r: OutputColumn[]): OutputColumn[] {
  if (l.length === r.length && !l.some((c) => c.star) && !r.some((c) => c.star)) {
    return l.map((c, i) => ({ name: c.name, sources: [...c.sources, ...r[i].sources] }));
  }
  return [{ name: "*", sources: [...l, ...r].flatMap((c) => c.sources), star: true }];
}

function names(list: unknown): string[] {
  return asArray(list).map(stringValue).filter((s): s is string => s !== undefined);
}
