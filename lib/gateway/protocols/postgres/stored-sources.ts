import { asArray, baseFunctionName, identifier, isObject, rangeVarName, str, unwrap, type AstObject } from "./classify/ast";
import { parseSql } from "./classify/parser";
import { newLevel, type OutputColumn } from "./classify/scope";
import { clientValue } from "./classify/settings";
import type { RequestKind } from "@/lib/gateway/core/types";
import type { Masker } from "@/lib/gateway/masking";
import { addCtes, addFrom, exprSources, statementColumns } from "./column-sources";
import type { UpstreamMetadata } from "./metadata";
import { OPAQUE, SourcePlans, type PlanOf } from "./source-plans";
import { userCodeRefusal } from "./user-code";

/**
 * What a statement stores, and where: masking follows a value to the client, not into a table.
 * An agent allowed to write under masking could otherwise copy a masked column into one that is
 * not masked and read it back (`BEGIN; UPDATE accounts SET login = password_hash; SELECT login
 * ...; ROLLBACK`), create a table from it, or send it as a notification payload to a listener.
 * The session checks these sources against the masking rules (refusedStore, below).
 *
 *   storedValuesOf("UPDATE accounts SET login = upper(password_hash)")
 *   → [{ target: "accounts.login", sources: ["accounts.password_hash"] }]
 *
 * target: the column stored into; "t.*" when which column is not known (an INSERT without a
 * column list); null for places masking does not follow at all (a table created AS SELECT, a
 * pg_notify payload). "opaque": the statement cannot be analysed (it does not parse, an EXECUTE
 * of a statement the session does not know, rows whose derivation fails).
 */

export interface StoredValue {
  target: string | null;
  sources: string[];
}

export type Stored = StoredValue[] | "opaque";

/** `prepared`: the text of a prepared statement an EXECUTE runs, or null when unknown. */
export function storedValuesOf(text: string, prepared: (name: string) => string | null = () => null, depth = 0): Stored {
  let stmts: unknown[];
  try {
    stmts = (parseSql(text, "storedValuesOf").stmts ?? []).map((s) => s.stmt);
  } catch {
    return "opaque";
  }
  const out: StoredValue[] = [];
  let opaque = false;
  const visit = (v: unknown): void => {
    if (opaque) return;
    if (Array.isArray(v)) return v.forEach(visit);
    if (!isObject(v)) return;
    const u = unwrap(v);
    if (u) {
      const [type, n] = u;
      const found = nodeValues(type, n);
      if (found === "opaque") opaque = true;
      else out.push(...found);
      // `prepare p as ...; execute p`: the PREPARE's statement, visited already (the session's p is not that one)
      if (type === "ExecuteStmt" && !preparedHere.has(str(n.name) ?? "")) {
        const inner = depth < 4 ? prepared(str(n.name) ?? "") : null;
        const values = inner === null ? "opaque" : storedValuesOf(inner, prepared, depth + 1);
        if (values === "opaque") opaque = true;
        else out.push(...values);
      }
    }
    for (const k in v) visit(v[k]);
  };
  const preparedHere = new Set<string>();
  try {
    for (const stmt of stmts) {
      visit(stmt);
      const u = unwrap(stmt);
      if (u?.[0] === "PrepareStmt") preparedHere.add(str(u[1].name) ?? "");
    }
  } catch {
    return "opaque"; // a parse tree too deep for the walk (RangeError): what it stores cannot be followed
  }
  return opaque ? "opaque" : out;
}

/**
 * Built-ins that store their data argument (by position) where masking does not look: a
 * notification payload, a setting (`SHOW`), a large object (`lo_get`, `pg_largeobject`), WAL.
 */
const SINKS = new Map([
  ["pg_notify", 1],
  ["set_config", 1],
  ["lo_from_bytea", 1],
  ["lo_put", 2],
  ["lowrite", 1],
  ["pg_logical_emit_message", 2],
]);

function nodeValues(type: string, n: AstObject): Stored {
  switch (type) {
    case "InsertStmt":
    case "UpdateStmt":
    case "MergeStmt":
      return dmlValues(type, n);
    case "CreateTableAsStmt": {
      if (n.objtype === "OBJECT_MATVIEW") return []; // a materialized view's columns are followed to their sources
      const q = unwrap(n.query);
      return rowsStored(q ? statementColumns(q[0], q[1], null) : null, null);
    }
    case "SelectStmt":
      if (!isObject(n.intoClause)) return [];
      return rowsStored(statementColumns(type, { ...n, intoClause: undefined }, null), null);
    case "FuncCall": {
      // NOTIFY takes only a literal; these functions' data argument can be anything the statement reads.
      const at = SINKS.get(baseFunctionName(n.funcname) ?? "");
      return at !== undefined && !clientValue(asArray(n.args)[at]) ? "opaque" : [];
    }
    case "RenameStmt":
    case "AlterObjectSchemaStmt":
    case "AlterTableStmt":
      return ddlValues(type, n);
    case "CopyStmt":
      // To or from a server file or program: rows the gateway never sees (a masked column written
      // out in clear), or a shell command's output (which can read the database itself).
      return n.is_program === true || typeof n.filename === "string" ? "opaque" : [];
    case "CreateTrigStmt":
    case "RuleStmt":
    case "CreateFunctionStmt":
    case "DoStmt":
      return "opaque"; // code the client wrote (to run now or later) can copy anything anywhere
    default:
      return [];
  }
}

/**
 * DDL that moves a column's values under another name, which column rules (matched by name) no
 * longer find: a renamed column or table, a table moved to another schema, a partition detached
 * or a child un-inherited from the table a rule names, a table attached as a partition or made to
 * inherit (its rows then show under the parent's name), a generated column or a type change
 * `USING` computed from another column.
 */
function ddlValues(type: string, n: AstObject): Stored {
  if (!isObject(n.relation)) return [];
  const table = rangeVarName(n.relation);
  if (type === "RenameStmt") {
    if (n.renameType === "OBJECT_COLUMN") return [{ target: `${table}.${identifier(str(n.newname) ?? "")}`, sources: [`${table}.${identifier(str(n.subname) ?? "")}`] }];
    if (["OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE"].includes(String(n.renameType))) return [{ target: null, sources: [`${table}.*`] }];
    return [];
  }
  if (type === "AlterObjectSchemaStmt") return [{ target: null, sources: [`${table}.*`] }];
  const level = newLevel(null);
  level.rels.push({ alias: str(n.relation.relname) ?? null, rel: { kind: "table", name: table, renamed: false } });
  const out: StoredValue[] = [];
  for (const c of asArray(n.cmds)) {
    const cmd = unwrap(c)?.[1];
    const def = unwrap(cmd?.def)?.[1];
    if (!cmd || !def) continue;
    // A partition detached or a child no longer inheriting leaves the rules that name its parent.
    if (cmd.subtype === "AT_DetachPartition" && isObject(def.name)) out.push({ target: null, sources: [`${rangeVarName(def.name)}.*`] });
    if (cmd.subtype === "AT_DropInherit") out.push({ target: null, sources: [`${table}.*`] });
    // ...and one attached or made to inherit shows its rows under the new parent's name.
    if (cmd.subtype === "AT_AttachPartition" && isObject(def.name)) out.push({ target: null, sources: [`${rangeVarName(def.name)}.*`] });
    if (cmd.subtype === "AT_AddInherit") out.push({ target: null, sources: [`${table}.*`] });
    if (cmd.subtype === "AT_AddColumn") {
      const exprs = asArray(def.constraints).map((k) => unwrap(k)?.[1]).filter((k) => k?.contype === "CONSTR_GENERATED").map((k) => k!.raw_expr);
      if (exprs.length) out.push({ target: `${table}.${identifier(str(def.colname) ?? "")}`, sources: exprSources(exprs, level) });
    } else if (cmd.subtype === "AT_AlterColumnType" && def.raw_default !== undefined) {
      out.push({ target: `${table}.${identifier(str(cmd.name) ?? "")}`, sources: exprSources(def.raw_default, level) });
    }
  }
  return out;
}

function rowsStored(cols: OutputColumn[] | null, target: string | null): Stored {
  return cols ? [{ target, sources: [...new Set(cols.flatMap((c) => c.sources))] }] : "opaque";
}

function dmlValues(type: string, n: AstObject): Stored {
  if (!isObject(n.relation)) return "opaque";
  const table = rangeVarName(n.relation);
  const level = newLevel(null);
  if (isObject(n.withClause)) addCtes(level, n.withClause);
  const column = (name: string | undefined) => (name === undefined ? `${table}.*` : `${table}.${identifier(name)}`);
  const assignments = (targets: unknown): StoredValue[] =>
    asArray(targets).flatMap((t) => {
      const rt = unwrap(t)?.[1];
      return rt ? [{ target: column(str(rt.name)), sources: exprSources(rt.val, level) }] : [];
    });
  // Rows going into named columns by position; the whole table when positions cannot be matched.
  const positional = (cols: string[], rows: OutputColumn[] | null): Stored => {
    if (!rows) return "opaque";
    if (cols.length && cols.length === rows.length && !rows.some((r) => r.star)) return rows.map((r, i) => ({ target: column(cols[i]), sources: r.sources }));
    return rowsStored(rows, `${table}.*`);
  };
  const names = (targets: unknown) => asArray(targets).map((t) => str(unwrap(t)?.[1].name)).filter((x): x is string => x !== undefined);
  const alias = str((n.relation.alias as AstObject | undefined)?.aliasname) ?? str(n.relation.relname) ?? null;

  if (type === "InsertStmt") {
    const q = unwrap(n.selectStmt);
    const rows = q ? statementColumns(q[0], q[1], level) : [];
    const stored = positional(names(n.cols), rows);
    const conflict = isObject(n.onConflictClause) ? n.onConflictClause : null;
    if (stored === "opaque" || !conflict) return stored;
    level.rels.push({ alias, rel: { kind: "table", name: table, renamed: false } });
    level.rels.push({ alias: "excluded", rel: { kind: "opaque", sources: rows!.flatMap((r) => r.sources) }, qualifiedOnly: true });
    return [...stored, ...assignments(conflict.targetList)];
  }
  level.rels.push({ alias, rel: { kind: "table", name: table, renamed: false } });
  for (const item of [...asArray(n.fromClause), n.sourceRelation]) if (item) addFrom(level, item);
  if (type === "UpdateStmt") return assignments(n.targetList);
  const out: StoredValue[] = [];
  for (const w of asArray(n.mergeWhenClauses)) {
    const c = unwrap(w)?.[1];
    if (!c) continue;
    if (c.commandType === "CMD_UPDATE") out.push(...assignments(c.targetList));
    else if (c.commandType === "CMD_INSERT") {
      const values = asArray(c.values).map((v): OutputColumn => ({ name: "", sources: exprSources(v, level) }));
      const stored = positional(names(c.targetList), values);
      if (stored === "opaque") return stored;
      out.push(...stored);
    }
  }
  return out;
}


/**
 * Whether a column masked by `into`'s plans shows no more of the stored values than their own
 * columns did: it hides whole values (redact, null, hash), or every source's column rules apply
 * to it too (a partial rule keeping 4 characters into its own column; not into one keeping 12,
 * nor a rule masking pattern matches inside one column into a column the rule does not name).
 */
function maskedAsMuch(sources: readonly PlanOf[], into: readonly PlanOf[]): boolean {
  if (into.some((p) => p.plan.hidesWholeValue)) return true;
  return sources.every((s) => into.some((t) => s.plan.columnRules.every((r) => t.plan.columnRules.includes(r))));
}

/**
 * Why a statement allowed under masking must not run, or null. It may not run code written in the
 * database (user-code.ts), reads included; and anything but a read (`kind`) may not store a value of a
 * column a column rule masks (whole, in part, or pattern matches inside it: `columnRules`)
 * anywhere but into a column masked as much (maskedAsMuch), nor anything the analysis cannot
 * follow. Values masked by text-wide detectors need no such rule: those find them wherever they
 * are read back.
 * A catalog that cannot be read refuses too (fail closed).
 */
export async function refusedStore(text: string, masker: Masker, metadata: UpstreamMetadata | null, connection: string, prepared: (name: string) => string | null, kind: RequestKind = "write"): Promise<string | null> {
  try {
    const code = metadata ? await userCodeRefusal(text, metadata, prepared, kind) : null;
    if (code) return code;
  } catch (err) {
    return `the upstream catalog could not be read (${(err as Error).message})`;
  }
  if (kind === "read") return null;
  const stored = storedValuesOf(text, prepared);
  if (stored === "opaque") return "it stores values the gateway cannot follow (a computed pg_notify payload, an unknown EXECUTE, COPY to or from a server file or program)";
  if (stored.every((s) => s.sources.length === 0)) return null;
  // Column names from the catalog, checked against it once used (DDL run directly on the database).
  const check = async () => {
    const walk = new SourcePlans(masker, metadata, connection);
    for (const s of stored) {
      const found = await walk.all(s.sources);
      if (found === OPAQUE) return `it stores values derived from ${s.sources.join(", ")}, whose masking cannot be followed`;
      const masked = found.filter((p) => p.plan.columnRules.length > 0);
      if (masked.length === 0) continue;
      const into = s.target && !s.target.endsWith(".*") ? await walk.all([s.target]) : OPAQUE;
      if (into !== OPAQUE && maskedAsMuch(masked, into)) continue;
      return `it stores the masked column ${masked.map((p) => p.plan.column).join(", ")} into ${s.target ?? "a new table or a notification"}, where masking would not follow it`;
    }
    return null;
  };
  try {
    return await (metadata ? metadata.checked(check) : check());
  } catch (err) {
    return `the upstream catalog could not be read (${(err as Error).message})`;
  }
}
