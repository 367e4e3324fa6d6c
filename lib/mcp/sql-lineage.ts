import { ANALYSIS_FAILED, classifySql, columnSourcesOrFailure, type OutputColumn, type StatementClass } from "@/lib/gateway/protocols/postgres/classify";

/** What a result set's columns derive from, for buildFieldPlans; `opaque`: not knowable. */
export interface Lineage {
  sources: OutputColumn[] | null;
  opaque: boolean;
}

/**
 * The lineage of each result set of one run_sql string, as the PostgreSQL gateway finds it per
 * result (relay-results.ts `queryLineage`): the statement that produced the result, an EXECUTE
 * through the PREPARE before it in the same string, a FETCH through its DECLARE. Without it a
 * masked column's transformed value (`reverse(password_hash)`) went out unmasked in any string
 * of more than one statement: expressions carry no table origin, and detectors do not know it.
 *
 * postgres-js starts a new result at each RowDescription that follows a completed command, so
 * when there are as many results as statements, the n-th result is the n-th statement's (each
 * statement after the first must have sent a RowDescription). Otherwise the mapping is unknown
 * and every result is opaque: what has no table origin is withheld, never guessed at.
 */
export function lineageOfResults(text: string, resultCount: number): Lineage[] {
  const statements = classifySql(text).statements;
  if (statements.length !== resultCount) return Array.from({ length: resultCount }, () => ({ sources: null, opaque: true }));
  return statements.map((s, i) => {
    const produced = resultTextOf(statements, i);
    if (produced === null) return { sources: null, opaque: true };
    // A statement whose analysis fails (a select list nested thousands of levels deep) is opaque too.
    const sources = columnSourcesOrFailure(produced);
    return sources === ANALYSIS_FAILED ? { sources: null, opaque: true } : { sources, opaque: false };
  });
}

/**
 * The text whose output columns statement i returns (extended.ts `resultText`, for one string
 * on a fresh connection): the latest PREPARE or DECLARE of that name before it; null when there
 * is none (a cursor opened inside a function), whose lineage cannot be known.
 */
function resultTextOf(statements: StatementClass[], i: number): string | null {
  const s = statements[i];
  const before = statements.slice(0, i).reverse();
  if (s.executes.length === 1) return before.find((p) => p.prepare?.name === s.executes[0])?.prepare?.statement.text ?? null;
  if (s.fetches !== undefined) return before.find((p) => p.declares === s.fetches)?.text ?? null;
  return s.text;
}
