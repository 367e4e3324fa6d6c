import type { RequestKind } from "@/lib/gateway/core/types";
import { asArray, defElemIsTrue, dottedName, findDefElem, isObject, str, unwrap, type AstObject } from "./ast";
import { collectFacts } from "./facts";
import type { FunctionMatcher } from "./functions";
import { BASE_KIND, maxKind } from "./kinds";
import { byteReadingProblem, HARMLESS_SET_CONFIG, HARMLESS_SETTINGS, settingValue } from "./settings";
import type { StatementClass } from "./types";

/**
 * Classifies one parsed statement: a base kind from its node type, then raised by what its
 * tree contains. See README.md ("Classification") for the table this implements.
 */

const DML = new Set(["InsertStmt", "UpdateStmt", "DeleteStmt", "MergeStmt"]);

/**
 * Statements that run their whole subtree now. In the others (CREATE VIEW/RULE/FUNCTION ...) a
 * nested DELETE or FOR UPDATE is a definition that runs later, under its own classification.
 */
const RUNS_SUBTREE = new Set([...DML, "SelectStmt", "ExplainStmt", "CopyStmt", "DeclareCursorStmt", "CreateTableAsStmt", "ExecuteStmt"]);

const RELATION_OBJECTS = new Set(["OBJECT_TABLE", "OBJECT_VIEW", "OBJECT_MATVIEW", "OBJECT_FOREIGN_TABLE", "OBJECT_SEQUENCE", "OBJECT_INDEX"]);

const TRANSACTION_ADMIN = new Set(["TRANS_STMT_PREPARE", "TRANS_STMT_COMMIT_PREPARED", "TRANS_STMT_ROLLBACK_PREPARED"]);

export function unresolvedExecuteReason(name: string): string {
  return `EXECUTE ${name}: the prepared statement is not resolved (unknown until the gateway's prepared-statement map says what it is)`;
}

export function classifyStatement(type: string, node: AstObject, text: string, functions: FunctionMatcher): StatementClass {
  const facts = collectFacts(type, node);
  const reasons: string[] = [];
  const out: StatementClass = {
    kind: "read",
    ownKind: "read",
    node: type,
    text,
    tables: [...facts.tables].sort(),
    functions: [...facts.functions].sort(),
    dataModifying: DML.has(type) || (facts.nestedDml && RUNS_SUBTREE.has(type)) || type === "TruncateStmt",
    transactionControl: false,
    reasons,
    executes: facts.executes,
  };
  // Whether the statement's subtree runs now. EXPLAIN without ANALYZE only plans.
  let executes = RUNS_SUBTREE.has(type);
  let applyFacts = true;
  let base: RequestKind;

  const inner = (field: unknown): StatementClass | null => {
    const u = unwrap(field);
    return u ? classifyStatement(u[0], u[1], text, functions) : null;
  };

  switch (type) {
    case "SelectStmt":
      base = isObject(node.intoClause) ? "ddl" : "read";
      if (base === "ddl") reasons.push("SELECT INTO creates a table");
      break;
    case "ExplainStmt": {
      const analyze = findDefElem(node.options, "analyze");
      const query = inner(node.query);
      if (analyze && defElemIsTrue(analyze)) {
        base = query?.ownKind ?? "unknown";
        reasons.push("EXPLAIN ANALYZE executes the statement");
      } else {
        base = "read";
        executes = false;
        out.dataModifying = false;
        out.executes = [];
        reasons.push("EXPLAIN without ANALYZE only plans the statement (function rules still apply: the planner may evaluate functions)");
      }
      break;
    }
    case "PrepareStmt": {
      // Classified as what it prepares, so policy can refuse to let a write be prepared at
      // all; the inner class already holds every nested fact, hence no second pass below.
      const query = inner(node.query);
      base = query?.kind ?? "unknown";
      applyFacts = false;
      if (query) {
        out.prepare = { name: str(node.name) ?? "", statement: query };
        out.dataModifying = query.dataModifying;
        reasons.push("PREPARE is classified as the statement it prepares", ...query.reasons);
      }
      break;
    }
    case "DeclareCursorStmt":
      base = inner(node.query)?.ownKind ?? "unknown";
      out.declares = str(node.portalname) ?? "";
      break;
    case "FetchStmt":
      base = "read";
      if (node.ismove !== true) out.fetches = str(node.portalname) ?? "";
      break;
    case "CopyStmt":
      base = classifyCopy(node, inner, reasons);
      if (node.is_from === true) out.dataModifying = true;
      break;
    case "VariableSetStmt": {
      const name = (str(node.name) ?? "").toLowerCase();
      out.setting = node.kind === "VAR_RESET_ALL" ? "all" : name;
      const value = settingValue(node);
      if (value !== undefined) out.settingValue = value;
      const problem = byteReadingProblem(name, value, node.kind);
      if (problem) out.settingProblem = problem;
      if (node.kind === "VAR_SET_MULTI" && name === "transaction") {
        base = "read";
        out.transactionControl = true;
      } else if (node.kind === "VAR_SET_MULTI" && name === "session characteristics") {
        base = "read";
        reasons.push("SET SESSION CHARACTERISTICS only sets this session's transaction defaults");
      } else if (node.kind !== "VAR_RESET_ALL" && HARMLESS_SETTINGS.has(name)) {
        base = "read";
        reasons.push(`SET/RESET ${name} only changes how this session formats, limits or labels its own work`);
      } else {
        base = "admin";
        reasons.push(`SET/RESET ${out.setting} changes session state`);
      }
      break;
    }
    case "VariableShowStmt":
      base = "read";
      out.setting = (str(node.name) ?? "").toLowerCase();
      break;
    case "TransactionStmt":
      out.transactionControl = true;
      base = TRANSACTION_ADMIN.has(String(node.kind)) ? "admin" : "read";
      if (base === "admin") reasons.push("two-phase commit statements act on prepared transactions of any session");
      break;
    case "ConstraintsSetStmt":
      out.transactionControl = true;
      base = "read";
      break;
    case "ExecuteStmt":
      base = "read";
      break;
    case "DeallocateStmt":
      base = "read";
      out.deallocates = node.isall === true ? { all: true } : { all: false, name: str(node.name) ?? "" };
      break;
    case "DropStmt":
      base = "ddl";
      // DROP names its relations as plain name lists, not RangeVars: report them as tables.
      if (RELATION_OBJECTS.has(String(node.removeType))) {
        const dropped = asArray(node.objects).map((o) => dottedName(unwrap(o)?.[1].items)).filter((n): n is string => n !== null);
        out.tables = [...new Set([...out.tables, ...dropped])].sort();
      }
      break;
    case "DiscardStmt":
      base = "admin";
      if (node.target === "DISCARD_ALL") out.deallocates = { all: true };
      break;
    default:
      base = BASE_KIND.get(type) ?? "unknown";
      if (!BASE_KIND.has(type)) reasons.push(`statement type ${type} is not recognized`);
      else if (base === "unknown") reasons.push(`${type} runs code the gateway cannot see`);
  }

  let kind = base;
  const raise = (k: RequestKind, why: string) => {
    if (k !== "read") reasons.push(why);
    kind = maxKind(kind, k);
  };
  if (applyFacts) {
    if (executes && facts.nestedDml) raise("write", "runs a data-modifying statement (INSERT/UPDATE/DELETE/MERGE, e.g. in a WITH clause)");
    if (executes && facts.rowLocks) raise("write", "FOR UPDATE/SHARE takes row locks that block other writers");
    for (const name of facts.functionBases) {
      const rule = functions.match(name);
      // set_config of a harmless setting named by a constant is the same as that SET.
      if (name === "set_config" && facts.setConfigs.length && facts.setConfigs.every((x) => x !== null && HARMLESS_SET_CONFIG.has(x))) {
        reasons.push(`set_config(${facts.setConfigs.join(", ")}) only changes how this session formats, limits or labels its own work`);
        continue;
      }
      if (rule) raise(rule.kind, `${name}(): ${rule.why}`);
    }
  }
  out.ownKind = kind;
  for (const name of out.executes) {
    reasons.push(unresolvedExecuteReason(name));
    kind = "unknown";
  }
  out.kind = kind;
  return out;
}

function classifyCopy(node: AstObject, inner: (f: unknown) => StatementClass | null, reasons: string[]): RequestKind {
  if (node.is_program === true) {
    reasons.push("COPY ... PROGRAM runs a shell command on the database server");
    return "admin";
  }
  if (typeof node.filename === "string") {
    reasons.push("COPY with a file name reads or writes files on the database server");
    return "admin";
  }
  if (node.is_from === true) return "write";
  // COPY (query) TO STDOUT runs the query: COPY (DELETE ... RETURNING *) TO STDOUT is a write.
  const query = node.query === undefined ? null : inner(node.query);
  return query ? maxKind("read", query.ownKind) : "read";
}
