import type { RequestKind } from "@/lib/gateway/core/types";

/** One statement of a (possibly multi-statement) SQL string. */
export interface StatementClass {
  kind: RequestKind;
  /**
   * The kind ignoring prepared statements this statement EXECUTEs. `kind` is "unknown" while
   * an EXECUTE is unresolved; resolvePrepared() combines `ownKind` with the stored classes.
   */
  ownKind: RequestKind;
  /** parse-tree node type: "SelectStmt", "ExplainStmt", "VariableSetStmt", ... */
  node: string;
  /** this statement's own source text (trimmed), for recording and approval binding */
  text: string;
  /** relations read or written, as written: "public.customers", "customers", "Customers" */
  tables: string[];
  /** every function called anywhere in the statement, as written: "pg_catalog.set_config" */
  functions: string[];
  /** changes table rows: INSERT/UPDATE/DELETE/MERGE (also inside CTEs), TRUNCATE, COPY FROM */
  dataModifying: boolean;
  /** BEGIN/COMMIT/ROLLBACK/SAVEPOINT/RELEASE, SET TRANSACTION, SET CONSTRAINTS, 2PC */
  transactionControl: boolean;
  /** why the kind is what it is, most important first; for the simulator and recordings */
  reasons: string[];
  /** the setting a SET/RESET/SHOW names, lower-cased ("role", "search_path", "all") */
  setting?: string;
  /** the constant a SET assigns, as text ("UTF8", "5000") */
  settingValue?: string;
  /** set when this SET would make the server read SQL bytes differently from the gateway (refused) */
  settingProblem?: string;
  /** PREPARE name AS <statement>: the prepared statement's own class */
  prepare?: { name: string; statement: StatementClass };
  /** names of prepared statements this statement runs (EXECUTE x, EXPLAIN ANALYZE EXECUTE x) */
  executes: string[];
  /** DECLARE name CURSOR FOR ...: the cursor it opens (a later FETCH returns that query's columns) */
  declares?: string;
  /** FETCH ... FROM name (not MOVE): the cursor whose rows it returns */
  fetches?: string;
  /** DEALLOCATE name / DEALLOCATE ALL / DISCARD ALL: prepared statements that stop existing */
  deallocates?: { all: true } | { all: false; name: string };
}

export interface Classification {
  /** the most dangerous kind among the statements (read < write < ddl < admin < unknown) */
  kind: RequestKind;
  statements: StatementClass[];
  /** union over statements, sorted */
  tables: string[];
  functions: string[];
  /** set when the text could not be parsed; kind is then "unknown" */
  parseError?: string;
}
