import { preparedDefinitions } from "./classify";
import { actionOf } from "@/lib/gateway/core/classify";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { maxKind, type Classification, type StatementClass } from "./classify";
import { classifyCached } from "./classify-cache";
import type { OutputColumn } from "./column-sources";
import type { BindMessage, FieldDescription, FrontendMessage } from "./wire";
import { FIRST_NORMAL_OID } from "./user-code-queries";

/** cursors remembered per connection for masking lineage (see noteCursors) */
const MAX_CURSORS = 1024;

/**
 * Extended-protocol state of one client connection: prepared statements (Parse) and portals
 * (Bind), exactly as far as the upstream confirmed them. A batch (messages up to Sync or Flush)
 * is planned against a copy of the maps; a denied batch never reaches the upstream, and what an
 * allowed one defines is applied as the upstream confirms each message (`Definition`), so a
 * Parse the upstream refused never defines anything a later Bind could run. A batch that uses a
 * name an earlier, still unanswered message defines waits for that answer (session.ts).
 *
 * Statement names share one namespace with SQL `PREPARE` (PostgreSQL keeps one list), which
 * is why `prepared` (name → classification) is fed by both and handed to the classifier to
 * resolve `EXECUTE name`.
 */

/**
 * A Parse may give a parameter a type created after initdb (FIRST_NORMAL_OID on: users' or an
 * extension's) by OID alone (a domain whose CHECK calls nextval or a user function):
 * the text never names it, so nothing the text is looked up by reaches its code. Unknown.
 */
function typedByOid(c: Classification): Classification {
  return { ...c, kind: "unknown", statements: c.statements.map((st) => ({ ...st, kind: "unknown", reasons: [...st.reasons, "a parameter's type is given by the OID of a type created in the database, whose code (a domain's CHECK) the text does not name"] })) };
}

export interface PreparedStatement {
  name: string;
  text: string;
  classification: Classification;
  paramTypes: number[];
  /** RowDescription from Describe S: a driver that cached it never asks again (postgres-js) */
  fields: FieldDescription[] | null;
  /** output-column derivations, computed on first masked use */
  sources?: OutputColumn[] | null;
}

export interface Portal {
  name: string;
  /** null: Bind named a statement the gateway does not know (upstream will refuse it) */
  statement: PreparedStatement | null;
  params: (string | null)[];
  /** result formats as the client asked for them in Bind */
  resultFormats: number[];
  /**
   * Bound under masking with binary result columns: the Bind that reached the upstream asked
   * for text (masking reads text), and the relay converts to the formats above (binary-results.ts).
   */
  textUpstream?: boolean;
  /** RowDescription from Describe P, as the upstream sent it */
  fields: FieldDescription[] | null;
}

/**
 * What a Parse, Bind or Close does to the gateway's maps, applied by the relay when the upstream
 * confirms it (ParseComplete, BindComplete, CloseComplete). One the upstream refused or skipped
 * (error until Sync) is never applied: otherwise `Parse s1 'select 1'` refused because s1 exists
 * would make the gateway decide a later Execute of s1 as that read while the upstream runs the
 * old s1 (a DELETE) — a write with no hold.
 */
export interface Definition {
  target: "S" | "P";
  name: string;
  apply(): void;
}

/** A SQL PREPARE of a simple Query: statement `index` of it, applied on its CommandComplete. */
export interface SqlPrepare {
  index: number;
  name: string;
  apply(): void;
}

export type BatchOp =
  | { t: "parse"; defines: Definition }
  | { t: "bind"; defines: Definition }
  | { t: "close"; defines: Definition }
  | { t: "describeS"; stmt: PreparedStatement | null }
  /** internal: sent by the gateway itself (the client did not ask); its answer is not forwarded */
  | { t: "describeP"; portal: Portal | null; internal?: boolean }
  | { t: "execute"; portal: Portal | null }
  | { t: "sync" };

export interface BatchPlan {
  /** null when nothing in the batch runs anything (only Parse/Describe/Close): no decision */
  request: ClassifiedRequest | null;
  /** Binds asking for binary result columns (position in the batch and in ops): under masking they are sent asking for text */
  binaryBinds: { index: number; op: number; portal: Portal }[];
  /** an Execute of a portal bound earlier, unmasked, with binary result columns (refused under masking) */
  runsBinaryPortal: boolean;
  /** an Execute runs COPY (its CopyOut rows have no RowDescription to plan masking from) */
  runsCopy: boolean;
  /** the statements the batch's Executes run, in order */
  executed: StatementClass[];
  ops: BatchOp[];
  /** statement texts parsed in this batch, for recording */
  parsed: string[];
  /** SETs among the executed statements that the session must refuse (classify/settings.ts byteReadingProblem) */
  settingProblems: string[];
  commit(): void;
}

export class ExtendedState {
  statements = new Map<string, PreparedStatement>();
  portals = new Map<string, Portal>();
  /** SQL PREPARE and named Parse statements, for resolving EXECUTE */
  readonly prepared = new Map<string, Classification>();
  /** cursor name → the DECLARE that opened it: a FETCH returns that query's columns, to be masked by its lineage */
  readonly cursors = new Map<string, string>();

  /** Classifies SQL text (through the process-wide cache: pgbench re-sends the same statements). */
  classify(text: string): Classification {
    return classifyCached(text, this.prepared);
  }

  /**
   * SQL-level PREPARE / DEALLOCATE / DISCARD share PostgreSQL's one namespace with protocol-level
   * Parse. Applied when the simple query is ALLOWED, before it is forwarded: DEALLOCATE and
   * DISCARD at once (a name the gateway forgot is decided as `unknown`, which only fails closed).
   * A PREPARE is returned instead, for the relay to apply when its CommandComplete says the
   * upstream made it (`PREPARE s1 AS SELECT 1` refused because s1 exists as a DELETE must not make
   * a later Execute of s1 look like a read); a batch that names it meanwhile waits for that
   * answer (Relay.definitionsSettled), as for a Parse.
   */
  applySqlNamespaceChanges(c: Classification, text: string): SqlPrepare[] {
    for (const s of c.statements) {
      if (s.deallocates?.all) {
        // DISCARD ALL also closes portals; clearing them after DEALLOCATE ALL only fails closed.
        this.prepared.clear();
        this.statements.clear();
        this.portals.clear();
      } else if (s.deallocates) {
        this.prepared.delete(s.deallocates.name);
        this.statements.delete(s.deallocates.name);
      }
    }
    this.noteCursors(c);
    // preparedDefinitions lists the PREPAREs in statement order
    const at = c.statements.flatMap((s, i) => (s.prepare ? [i] : []));
    return preparedDefinitions(c).map(([name, inner], k) => ({
      index: at[k],
      name,
      apply: () => {
        this.prepared.set(name, inner);
        // The PREPARE's own text, not the whole Query: masking derives the statement's columns from
        // it, which fails on a text of several statements (`select 1; prepare p as select ...`).
        this.statements.set(name, { name, text: inner.statements[0]?.text ?? text, classification: inner, paramTypes: [], fields: null });
      },
    }));
  }

  /**
   * Cursors a statement opens; kept until redefined (a stale entry only adds lineage), the
   * MAX_CURSORS most recent: drivers that name a cursor per query would otherwise grow this for
   * as long as the connection lives. A FETCH from a forgotten one withholds what has no table
   * origin (resultText).
   */
  private noteCursors(c: Classification) {
    for (const s of c.statements) {
      if (s.declares === undefined) continue;
      this.cursors.delete(s.declares);
      this.cursors.set(s.declares, s.text);
      if (this.cursors.size > MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value!);
    }
  }

  /**
   * The text whose output columns a statement returns, for masking lineage: an EXECUTE returns
   * its prepared statement's columns, a FETCH its cursor's; anything else its own text. Null: a
   * FETCH from a cursor this connection did not declare through the gateway (opened inside a
   * function or DO block) or that was forgotten, whose columns' lineage cannot be known. So is
   * an EXECUTE of a statement forgotten by the time its result arrives: a DEALLOCATE in the same
   * Query or pipelined after it is applied when allowed, before the EXECUTE's rows come back
   * (`execute p; deallocate p`), and the EXECUTE's own text derives nothing.
   */
  resultText(s: StatementClass): string | null {
    if (s.executes.length === 1) return this.prepared.get(s.executes[0])?.statements[0]?.text ?? null;
    if (s.fetches !== undefined) return this.cursors.get(s.fetches) ?? null;
    return s.text;
  }

  /**
   * `c` with the tables and functions of the cursors its FETCHes read. A cursor's query runs as
   * it is fetched, and a FETCH names only the cursor: decided on its own, a cursor declared before
   * a forbid on its table (or before its user left the group a permit needed, or a grant ran
   * out) went on returning rows. A cursor the gateway did not see declared adds nothing.
   */
  withCursorSources(c: Classification): Classification {
    let tables: Set<string> | null = null;
    let functions: Set<string> | null = null;
    for (const s of c.statements) {
      const declared = s.fetches === undefined ? undefined : this.cursors.get(s.fetches);
      if (declared === undefined) continue;
      const d = this.classify(declared);
      tables ??= new Set(c.tables);
      functions ??= new Set(c.functions);
      for (const t of d.tables) tables.add(t);
      for (const f of d.functions) functions.add(f);
    }
    return tables && functions ? { ...c, tables: [...tables].sort(), functions: [...functions].sort() } : c;
  }

  plan(batch: readonly FrontendMessage[]): BatchPlan {
    const statements = new Map(this.statements);
    const portals = new Map(this.portals);
    const ops: BatchOp[] = [];
    const parsed: string[] = [];
    const runs: { c: Classification; text: string; params: (string | null)[] }[] = [];
    const binaryBinds: { index: number; op: number; portal: Portal }[] = [];
    let runsBinaryPortal = false;
    const settingProblems: string[] = [];
    for (let index = 0; index < batch.length; index++) {
      const m = batch[index];
      switch (m.type) {
        case "Parse": {
          const classification = this.classify(m.text);
          const stmt: PreparedStatement = { name: m.name, text: m.text, classification, paramTypes: m.paramTypes, fields: null };
          statements.set(m.name, stmt);
          parsed.push(m.text);
          const apply = () => {
            this.statements.set(m.name, stmt);
            if (m.name) this.prepared.set(m.name, classification);
          };
          ops.push({ t: "parse", defines: { target: "S", name: m.name, apply } });
          break;
        }
        case "Bind": {
          const stmt = statements.get(m.statement) ?? null;
          const portal: Portal = { name: m.portal, statement: stmt, params: decodeParams(m), resultFormats: m.resultFormats, fields: null };
          if (m.resultFormats.some((f) => f !== 0)) binaryBinds.push({ index, op: ops.length, portal });
          portals.set(m.portal, portal);
          ops.push({ t: "bind", defines: { target: "P", name: m.portal, apply: () => void this.portals.set(m.portal, portal) } });
          break;
        }
        case "Describe":
          ops.push(m.target === "S" ? { t: "describeS", stmt: statements.get(m.name) ?? null } : { t: "describeP", portal: portals.get(m.name) ?? null });
          break;
        case "Execute": {
          const portal = portals.get(m.portal) ?? null;
          if (portal && !portal.textUpstream && portal.resultFormats.some((f) => f !== 0) && !binaryBinds.some((b) => b.portal === portal)) runsBinaryPortal = true;
          for (const st of portal?.statement?.classification.statements ?? []) if (st.settingProblem) settingProblems.push(st.settingProblem);
          runs.push(
            portal?.statement && portal.statement.paramTypes.some((oid) => oid >= FIRST_NORMAL_OID)
              ? { c: typedByOid(portal.statement.classification), text: portal.statement.text, params: portal.params }
              : portal?.statement
              ? { c: this.withCursorSources(portal.statement.classification), text: portal.statement.text, params: portal.params }
              : { c: { kind: "unknown", statements: [], tables: [], functions: [] }, text: `EXECUTE PORTAL "${m.portal}" (unknown to the gateway)`, params: portal?.params ?? [] },
          );
          ops.push({ t: "execute", portal });
          break;
        }
        case "Close": {
          if (m.target === "S") statements.delete(m.name);
          else portals.delete(m.name);
          const apply = () => {
            if (m.target === "P") return void this.portals.delete(m.name);
            this.statements.delete(m.name);
            this.prepared.delete(m.name);
          };
          ops.push({ t: "close", defines: { target: m.target, name: m.name, apply } });
          break;
        }
        case "Sync":
          ops.push({ t: "sync" });
          break;
        default:
          break; // Flush: no response
      }
    }
    return {
      request: runs.length ? combineRuns(runs) : null,
      binaryBinds,
      runsBinaryPortal,
      runsCopy: runs.some((r) => r.c.statements.some((st) => st.node === "CopyStmt")),
      executed: runs.flatMap((r) => r.c.statements),
      ops,
      parsed,
      settingProblems,
      // The maps change as the upstream confirms each message (BatchOp `defines`), not here.
      commit: () => {
        for (const r of runs) this.noteCursors(r.c);
      },
    };
  }

  /**
   * The names a batch takes from before it: statements its Binds and Describes name and portals
   * its Executes and Describes name that it does not define itself. Deciding it must wait until no earlier message that
   * defines one of them is still unanswered (Relay.definitionsSettled).
   */
  referencedNames(batch: readonly FrontendMessage[]): { statements: Set<string>; portals: Set<string> } {
    const parsedHere = new Set<string>();
    const boundHere = new Set<string>();
    const statements = new Set<string>();
    const portals = new Set<string>();
    for (const m of batch) {
      if (m.type === "Parse") parsedHere.add(m.name);
      else if (m.type === "Bind") {
        if (!parsedHere.has(m.statement)) statements.add(m.statement);
        boundHere.add(m.portal);
      } else if (m.type === "Execute" && !boundHere.has(m.portal)) portals.add(m.portal);
      // a Describe's answer is kept on the statement or portal (masking of a later Execute reads it)
      else if (m.type === "Describe" && m.target === "S" && !parsedHere.has(m.name)) statements.add(m.name);
      else if (m.type === "Describe" && m.target === "P" && !boundHere.has(m.name)) portals.add(m.name);
    }
    return { statements, portals };
  }
}

/** Several Executes before one Sync are decided as one request: the riskiest kind wins. */
export function combineRuns(runs: readonly { c: Classification; text: string; params: (string | null)[] }[]): ClassifiedRequest {
  if (runs.length === 1) {
    const [{ c, text, params }] = runs; // the common case; the classification's lists are already sorted
    return { action: actionOf(c.kind), kind: c.kind, tables: c.tables, functions: c.functions, text, params };
  }
  let kind = runs[0].c.kind;
  const tables = new Set<string>();
  const functions = new Set<string>();
  for (const r of runs) {
    kind = maxKind(kind, r.c.kind);
    r.c.tables.forEach((t) => tables.add(t));
    r.c.functions.forEach((f) => functions.add(f));
  }
  return {
    action: actionOf(kind),
    kind,
    tables: [...tables].sort(),
    functions: [...functions].sort(),
    text: runs.map((r) => r.text).join(";\n"),
    params: runs.flatMap((r) => r.params),
  };
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Bind parameters as the approval binding, the approver and the recording see them: text as is
 * (one more leading backslash when it starts with one), binary and undecodable text as \x-hex.
 */
export function decodeParams(m: BindMessage): (string | null)[] {
  return m.params.map((p, i) => {
    if (p === null) return null;
    const format = m.paramFormats.length === 0 ? 0 : m.paramFormats.length === 1 ? m.paramFormats[0] : m.paramFormats[i];
    if (format === 0) {
      try {
        const text = UTF8.decode(p);
        // Text starting with a backslash gets one more, so no text value renders like bytes: the
        // text '\x5a5a' renders as \\x5a5a, the binary bytes 5a 5a ('ZZ') as \x5a5a. An approval
        // is bound to the rendering, and the two run differently.
        return text.startsWith("\\") ? `\\${text}` : text;
      } catch {
        return `\\x${p.toString("hex")}`;
      }
    }
    return `\\x${p.toString("hex")}`;
  });
}
