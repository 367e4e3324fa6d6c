import { parseColumnPattern, type ColumnGlob } from "@/lib/gateway/masking/columns";
import type { Masker, MaskingRule } from "@/lib/gateway/masking";
import { asArray, baseFunctionName, isObject, str, stringValue, unwrap, type AstObject } from "./classify/ast";
import { parseSql } from "./classify/parser";
import type { UpstreamMetadata } from "./metadata";
import { OPAQUE, SourcePlans } from "./source-plans";

/**
 * "No inference" for masking rules with `blockInference`: masking hides a column's values in
 * the output, but a statement that filters, sorts, groups or joins on the column reveals them
 * without returning them (`SELECT id FROM customers WHERE ssn LIKE '123-45-%'`, one question per
 * digit). Under such a rule a guarded column may appear only as a plain column of the top-level
 * select list, where masking replaces it; anywhere else the statement is refused:
 *
 *   inferenceRefusal("SELECT id FROM customers ORDER BY ssn", rules, "prod")
 *   → 'column "ssn" (masking rule "pii", which blocks inference) is used in ORDER BY'
 *
 * Matching is by column name alone, whatever table the name resolves to: a view or a CTE may
 * carry the column under its own table name, so a false refusal is the price of never missing
 * one. A view may also carry it under another column name (`CREATE VIEW v AS SELECT ssn AS s`):
 * inferenceRefusalThroughViews asks the catalog which columns of the views the statement reads
 * are made of a guarded column (SourcePlans, as result masking does) and guards those names too.
 * A glob whose column part is `*` (`customers.*`) guards every column name once the statement
 * names a relation its table part matches. Whole rows (`c`, `c.*`, `row_to_json(c)`),
 * stars and column alias lists outside the top-level select list, NATURAL joins, code in strings
 * (DO) and EXECUTE of an unknown statement are refused too: the gateway cannot tell which
 * columns they cover. Parse failures and analysis errors refuse (fail closed).
 */

interface Guard {
  rule: string;
  glob: ColumnGlob;
}

/** Every column of every table. */
const ANY: ColumnGlob = { connection: null, schema: null, table: null, column: null };

/** A column name a view gives a guarded column, and the rule that guards it. */
export interface ViewColumn {
  name: string;
  rule: string;
}

/** Why `text` is refused under `rules` (those the session's masker applies on its channel), or null. */
export function inferenceRefusal(text: string, rules: readonly MaskingRule[], connection: string, prepared: (name: string) => string | null = () => null, viewColumns: readonly ViewColumn[] = []): string | null {
  const named = viewColumns.map((v) => ({ rule: v.rule, glob: { ...ANY, column: { test: (name: string) => name.toLowerCase() === v.name.toLowerCase() } } }));
  const guards = [...guardsOf(rules, connection), ...named];
  if (guards.length === 0) return null;
  try {
    new InferenceWalk(guards, prepared).statements(text, 0);
    return null;
  } catch (err) {
    if (err instanceof Refusal) return err.message;
    return `the statement cannot be analysed for what it reveals of masked columns (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The column globs of rules that block inference, on this connection. */
function guardsOf(rules: readonly MaskingRule[], connection: string): Guard[] {
  const guards: Guard[] = [];
  for (const rule of rules) {
    if (!rule.enabled || !rule.blockInference) continue;
    for (const pattern of rule.columns) {
      const glob = parseColumnPattern(pattern);
      // compileMasker refuses a rule with a bad glob; here it guards everything rather than nothing
      if (typeof glob === "string") guards.push({ rule: rule.name, glob: ANY });
      else if (!glob.connection || glob.connection.test(connection)) guards.push({ rule: rule.name, glob });
    }
  }
  return guards;
}

class Refusal extends Error {}

const MAX_EXECUTE_DEPTH = 4;

/** Where a reference sits, by the field of the parse tree that holds it. */
const CLAUSES: Record<string, string> = {
  whereClause: "WHERE",
  havingClause: "HAVING",
  groupClause: "GROUP BY",
  sortClause: "ORDER BY",
  distinctClause: "DISTINCT ON",
  windowClause: "WINDOW",
  partitionClause: "a window's PARTITION BY",
  orderClause: "a window's ORDER BY",
  quals: "JOIN ON",
  targetList: "the select list",
  returningList: "RETURNING",
  limitCount: "LIMIT",
  limitOffset: "OFFSET",
  fromClause: "FROM",
  withClause: "a WITH query",
  onConflictClause: "ON CONFLICT",
  valuesLists: "VALUES",
  agg_filter: "FILTER",
  agg_order: "an aggregate's ORDER BY",
};

class InferenceWalk {
  private relations = new Set<string>();
  /** names this text PREPAREd so far (statements): an EXECUTE of one runs that statement */
  private readonly preparedHere = new Set<string>();
  private guards: { rule: string; test: (name: string) => boolean }[] = [];

  constructor(
    private readonly globs: readonly Guard[],
    private readonly prepared: (name: string) => string | null,
  ) {}

  statements(text: string, depth: number) {
    const stmts = (parseSql(text, "inferenceRefusal").stmts ?? []).map((s) => s.stmt);
    this.collectRelations(stmts);
    this.guards = this.globs.map((g) => ({ rule: g.rule, test: this.nameTest(g.glob) }));
    for (const stmt of stmts) {
      const u = unwrap(stmt);
      if (!u) throw new Refusal("the statement cannot be analysed for what it reveals of masked columns");
      // A cursor's rows (FETCH; psql's FETCH_COUNT) and a prepared statement's (EXECUTE) are its output.
      const query = u[0] === "DeclareCursorStmt" || u[0] === "PrepareStmt" ? unwrap(u[1].query) : null;
      if (u[0] === "SelectStmt") this.select(u[1], true, "");
      else if (query?.[0] === "SelectStmt") this.select(query[1], true, "");
      else if (u[0] === "ExecuteStmt") this.execute(u[1], depth);
      else this.node(u[0], u[1], `the ${u[0].replace(/Stmt$/, "").toUpperCase()} statement`);
      if (u[0] === "PrepareStmt") this.preparedHere.add(str(u[1].name) ?? "");
    }
  }

  /** Every relation name and alias: a bare name equal to one of them may be a whole row. */
  private collectRelations(v: unknown) {
    if (Array.isArray(v)) return v.forEach((x) => this.collectRelations(x));
    if (!isObject(v)) return;
    if (typeof v.relname === "string") this.relations.add(v.relname.toLowerCase());
    if (typeof v.ctename === "string") this.relations.add(v.ctename.toLowerCase());
    if (isObject(v.alias) && typeof v.alias.aliasname === "string") this.relations.add(v.alias.aliasname.toLowerCase());
    for (const k in v) this.collectRelations(v[k]);
  }

  /** A named column is guarded wherever it comes from; `table.*` once the statement names such a table. */
  private nameTest(glob: ColumnGlob): (name: string) => boolean {
    if (glob.column) return (name) => glob.column!.test(name);
    const touched = !glob.table || [...this.relations].some((r) => glob.table!.test(r));
    return () => touched;
  }

  private refuseName(name: string, at: string) {
    const hit = this.guards.find((g) => g.test(name));
    if (hit) throw new Refusal(`column "${name}" (masking rule "${hit.rule}", which blocks inference) is used in ${at}`);
  }

  private select(n: AstObject, top: boolean, at: string) {
    const where = (clause: string) => (top ? clause : `${clause} of a subquery in ${at}`);
    if (str(n.op) && n.op !== "SETOP_NONE") {
      // Each branch's output is compared (UNION dedupes, INTERSECT/EXCEPT match): none is plain output.
      this.select(n.larg as AstObject, false, where(`a ${String(n.op).replace("SETOP_", "")} branch`));
      this.select(n.rarg as AstObject, false, where(`a ${String(n.op).replace("SETOP_", "")} branch`));
    }
    const outputs = top ? this.outputs(n) : null;
    for (const key of Object.keys(n)) {
      if (key === "larg" || key === "rarg") continue;
      const clause = CLAUSES[key];
      if (key === "targetList" && outputs) continue;
      if (outputs && (key === "sortClause" || key === "groupClause" || key === "distinctClause")) this.byOutput(n[key], outputs, clause);
      this.walk(n[key], clause ? where(clause) : top ? "the statement" : at);
    }
  }

  /**
   * The top-level select list: plain column references are what masking replaces, so they stay;
   * any other expression is walked like a filter (`length(ssn)` tells the length). Returns, per
   * position, whether the output may carry a guarded column (for ORDER BY 1, GROUP BY alias).
   */
  private outputs(n: AstObject): { masked: boolean[]; aliases: Set<string>; star: boolean } {
    const out = { masked: [] as boolean[], aliases: new Set<string>(), star: false };
    for (const t of asArray(n.targetList)) {
      const r = unwrap(t)?.[1] ?? {};
      const ref = unwrap(r.val);
      if (ref?.[0] !== "ColumnRef") {
        this.walk(r.val, "the select list");
        out.masked.push(false);
        continue;
      }
      const fields = asArray(ref[1].fields);
      const star = unwrap(fields[fields.length - 1])?.[0] === "A_Star";
      const name = star ? "" : (stringValue(fields[fields.length - 1]) ?? "");
      const masked = star || this.guards.some((g) => g.test(name)) || (fields.length === 1 && this.relations.has(name.toLowerCase()));
      out.star ||= star;
      out.masked.push(masked);
      if (masked) out.aliases.add((str(r.name) ?? name).toLowerCase());
    }
    return out;
  }

  /** ORDER BY / GROUP BY / DISTINCT ON by output position or alias, and plain DISTINCT. */
  private byOutput(list: unknown, outputs: { masked: boolean[]; aliases: Set<string>; star: boolean }, clause: string) {
    for (const item of asArray(list)) {
      const u = unwrap(item);
      if (!u) {
        // plain DISTINCT ({}): which rows are equal tells which masked values are
        const masked = [...outputs.aliases][0];
        if (masked !== undefined) throw new Refusal(`output column "${masked || "*"}", which may be masked (masking rule blocks inference), is used in DISTINCT`);
        continue;
      }
      const expr = u[0] === "SortBy" ? unwrap(u[1].node) : u;
      if (expr?.[0] === "A_Const" && isObject(expr[1].ival)) {
        const position = Number(expr[1].ival.ival ?? 0);
        if (outputs.star || outputs.masked[position - 1] !== false) throw new Refusal(`output column ${position}, which may be masked (masking rule blocks inference), is used in ${clause}`);
      }
      if (expr?.[0] === "ColumnRef") {
        const fields = asArray(expr[1].fields);
        const name = fields.length === 1 ? stringValue(fields[0]) : undefined;
        if (name !== undefined && outputs.aliases.has(name.toLowerCase())) throw new Refusal(`output column "${name}", which is masked (masking rule blocks inference), is used in ${clause}`);
      }
    }
  }

  private walk(v: unknown, at: string): void {
    if (Array.isArray(v)) return v.forEach((x) => this.walk(x, at));
    if (!isObject(v)) return;
    const u = unwrap(v);
    if (u && /^[A-Z]/.test(u[0])) return this.node(u[0], u[1], at);
    // a field typed RangeVar holds it bare (`UPDATE customers c`)
    if (typeof v.relname === "string") return this.node("RangeVar", v, at);
    this.fields(v, at);
  }

  private fields(n: AstObject, at: string) {
    for (const k of Object.keys(n)) this.walk(n[k], CLAUSES[k] && k !== "targetList" ? CLAUSES[k] : at);
  }

  private node(type: string, n: AstObject, at: string) {
    switch (type) {
      case "SelectStmt":
        return this.select(n, false, at);
      case "ColumnRef":
        return this.columnRef(n, at);
      case "A_Star":
        throw new Refusal(`a star (*) in ${at} may cover a masked column (a masking rule blocks inference)`);
      case "A_Indirection":
        // (c).ssn: the field names a column too
        for (const f of asArray(n.indirection)) {
          const name = stringValue(f);
          if (name !== undefined) this.refuseName(name, at);
        }
        return this.fields(n, at);
      case "RangeVar":
        if (isObject(n.alias) && asArray(n.alias.colnames).length) throw new Refusal(`a column alias list on "${str(n.relname) ?? ""}" hides which column is masked (a masking rule blocks inference)`);
        return;
      case "JoinExpr":
        if (n.isNatural) throw new Refusal("a NATURAL JOIN compares columns that may be masked (a masking rule blocks inference)");
        if (isObject(n.alias) && asArray(n.alias.colnames).length) throw new Refusal("a column alias list on a join hides which column is masked (a masking rule blocks inference)");
        for (const u of asArray(n.usingClause)) this.refuseName(stringValue(u) ?? "", "JOIN USING");
        this.walk(n.larg, at);
        this.walk(n.rarg, at);
        return this.walk(n.quals, "JOIN ON");
      case "IndexElem":
        if (str(n.name)) this.refuseName(String(n.name), at);
        return this.fields(n, at);
      case "ResTarget":
        // `name` is an alias or an assignment target, not a reference
        this.walk(n.val, at);
        return this.walk(n.indirection, at);
      case "FuncCall":
        return this.fields(n, at.includes(", inside ") ? at : `${at}, inside ${baseFunctionName(n.funcname) ?? "a function"}()`);
      case "WindowDef":
        return this.fields(n, at);
      case "SubLink": {
        // EXISTS tells whether a row comes back, never what is in it: stars, plain columns and
        // constants in its select list reveal nothing (other expressions may raise an error, so they count)
        const sub = n.subLinkType === "EXISTS_SUBLINK" ? unwrap(n.subselect) : null;
        if (sub?.[0] !== "SelectStmt" || (str(sub[1].op) && sub[1].op !== "SETOP_NONE")) return this.fields(n, at);
        return this.select({ ...sub[1], targetList: asArray(sub[1].targetList).filter((t) => !revealsNothingInExists(t)) }, false, at);
      }
      case "ExecuteStmt":
        return this.execute(n, 0);
      case "DoStmt":
      case "CreateFunctionStmt":
        throw new Refusal("code written as a string cannot be analysed for what it reveals of masked columns (a masking rule blocks inference)");
      default:
        return this.fields(n, at);
    }
  }

  private columnRef(n: AstObject, at: string) {
    const fields = asArray(n.fields);
    const last = fields[fields.length - 1];
    if (unwrap(last)?.[0] === "A_Star") throw new Refusal(`a star (*) in ${at} may cover a masked column (a masking rule blocks inference)`);
    const name = stringValue(last) ?? "";
    this.refuseName(name, at);
    // `customers` or `c` as a value is the whole row, masked columns included
    if (fields.length === 1 && this.relations.has(name.toLowerCase())) throw new Refusal(`the whole row of "${name}", which may hold a masked column (a masking rule blocks inference), is used in ${at}`);
  }

  /** EXECUTE runs a prepared statement: its text is analysed as if sent itself. */
  private execute(n: AstObject, depth: number) {
    // `prepare p as ...; execute p`: the PREPARE's statement, analysed already (the session's p is not that one)
    if (this.preparedHere.has(str(n.name) ?? "")) return this.walk(n.params, "EXECUTE parameters");
    const text = depth < MAX_EXECUTE_DEPTH ? this.prepared(str(n.name) ?? "") : null;
    if (text === null) throw new Refusal(`EXECUTE ${str(n.name) ?? ""}: the prepared statement is unknown to the gateway, so what it reveals of masked columns cannot be told`);
    this.walk(n.params, "EXECUTE parameters");
    new InferenceWalk(this.globs, this.prepared).statements(text, depth + 1);
  }
}

function revealsNothingInExists(target: unknown): boolean {
  const val = unwrap(unwrap(target)?.[1]?.val)?.[0];
  return val === "ColumnRef" || val === "A_Const";
}

/**
 * inferenceRefusal, with the names views give guarded columns guarded too. Fails closed: a view
 * the catalog cannot explain, or a catalog that cannot be read, refuses.
 */
export async function inferenceRefusalThroughViews(
  text: string,
  masker: Masker,
  rules: readonly MaskingRule[],
  metadata: UpstreamMetadata,
  connection: string,
  prepared: (name: string) => string | null = () => null,
): Promise<string | null> {
  const direct = inferenceRefusal(text, rules, connection, prepared);
  const guarding = new Map(rules.filter((r) => r.enabled && r.blockInference).map((r) => [r.id, r.name]));
  if (direct !== null || guarding.size === 0) return direct;
  try {
    const viewColumns = await viewColumnsOf(relationsIn(text, prepared), masker, metadata, connection, guarding);
    if (viewColumns === OPAQUE) return "a view this statement reads cannot be followed to the columns it is made of, so what it reveals of masked columns cannot be told (a masking rule blocks inference)";
    return viewColumns.length ? inferenceRefusal(text, rules, connection, prepared, viewColumns) : null;
  } catch (err) {
    return `the upstream catalog could not be read to tell what this statement reveals of masked columns (${err instanceof Error ? err.message : String(err)})`;
  }
}

/** The relations `text` names (RangeVars), with those of the prepared statements it EXECUTEs. */
function relationsIn(text: string, prepared: (name: string) => string | null, depth = 0): { schema?: string; name: string }[] {
  const out: { schema?: string; name: string }[] = [];
  const visit = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isObject(v)) return;
    if (typeof v.relname === "string") out.push({ ...(str(v.schemaname) ? { schema: String(v.schemaname) } : {}), name: v.relname });
    const u = unwrap(v);
    const inner = u?.[0] === "ExecuteStmt" && depth < MAX_EXECUTE_DEPTH ? prepared(str(u[1].name) ?? "") : null;
    if (inner !== null) out.push(...relationsIn(inner, prepared, depth + 1));
    for (const k in v) visit(v[k]);
  };
  visit(parseSql(text, "inferenceRefusal").stmts ?? []);
  return out;
}

/** Columns of the views among `relations` made of a column a guarding rule masks. */
async function viewColumnsOf(relations: readonly { schema?: string; name: string }[], masker: Masker, metadata: UpstreamMetadata, connection: string, guarding: ReadonlyMap<string, string>): Promise<ViewColumn[] | typeof OPAQUE> {
  const walk = new SourcePlans(masker, metadata, connection);
  const out: ViewColumn[] = [];
  for (const ref of relations) {
    for (const r of await metadata.relations(ref)) {
      if (!r.lineage) continue;
      for (const column of r.columns) {
        const found = await walk.of(`${r.schema}.${r.name}.${column}`);
        if (found === OPAQUE) return OPAQUE;
        const rule = found.flatMap((p) => p.plan.columnRules).find((id) => guarding.has(id));
        if (rule !== undefined) out.push({ name: column, rule: guarding.get(rule)! });
      }
    }
  }
  return out;
}
