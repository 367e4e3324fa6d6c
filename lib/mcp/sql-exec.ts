import postgres from "postgres";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { Masker } from "@/lib/gateway/masking";
import { buildFieldPlans, maskRow, type FieldPlan } from "@/lib/gateway/protocols/postgres/masking";
import { metadataFor } from "@/lib/gateway/protocols/postgres/metadata";
import type { FieldDescription } from "@/lib/gateway/protocols/postgres/wire";
import { lineageOfResults } from "./sql-lineage";

/**
 * Runs one decided SQL string on a postgres connection's upstream for run_sql, with the
 * connection's stored credentials (never the caller's token), and masks what comes back with
 * the same column plans the PostgreSQL gateway uses (masking.ts there): table columns by
 * (table OID, attnum) looked up in the upstream catalog, expressions by their source columns,
 * detectors on every value as the backstop.
 *
 * Without parameters the text goes as one simple Query, so a multi-statement string runs as
 * the classifier saw and policy decided it — never split, never re-parsed differently. With
 * parameters it goes as Parse/Bind/Execute, which PostgreSQL itself limits to one statement.
 * Results are read in text format (`raw()`), so what is masked is exactly what is shown.
 * Each result is masked with its own statement's lineage (sql-lineage.ts).
 */
export const MAX_ROWS = 500;
export const STATEMENT_TIMEOUT_MS = 30_000;
/** a statement that ignores statement_timeout (or an upstream that does) loses its connection */
const HARD_KILL_GRACE_MS = 5_000;
const SAMPLE_ROWS = 20;

export interface ResultSet {
  command: string;
  /** rows the statement returned or affected, before the cap */
  rowCount: number;
  columns: string[];
  rows: (string | null)[][];
  truncated: boolean;
}

export interface SqlOutcome {
  sets: ResultSet[];
  maskedCells: number;
  durationMs: number;
}

type RawColumn = { name: string; table: number; number: number; type: number };
type RawSet = ((Buffer | null)[])[] & { command?: string; count?: number | null; columns?: RawColumn[] };

export async function runSqlUpstream(target: UpstreamTarget, text: string, params: (string | null)[] | undefined, masker: Masker | null): Promise<SqlOutcome> {
  const sql = postgres({
    host: target.url.hostname.replace(/^\[|\]$/g, ""),
    port: Number(target.url.port || 5432),
    database: decodeURIComponent(target.url.pathname.slice(1)) || target.username,
    username: target.username,
    password: target.secret ?? undefined,
    ssl: target.options.tls === "require" ? { rejectUnauthorized: target.options.tlsVerify === true } : false,
    max: 1,
    prepare: false,
    fetch_types: false,
    connect_timeout: 10,
    idle_timeout: 5,
    // Notices can carry data (RAISE NOTICE '%', ssn): never relayed unmasked, so not relayed.
    onnotice: () => {},
    connection: { application_name: "gatehouse-mcp", statement_timeout: STATEMENT_TIMEOUT_MS },
  });
  const killer = setTimeout(() => void sql.end({ timeout: 0 }), STATEMENT_TIMEOUT_MS + HARD_KILL_GRACE_MS);
  const started = performance.now();
  try {
    const raw = (await sql.unsafe(text, params ?? []).raw()) as unknown as RawSet | RawSet[];
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    // One statement resolves to one result (rows are arrays); several to an array of results.
    const sets: RawSet[] = Array.isArray(raw) && raw.length > 0 && isResult(raw[0]) ? (raw as RawSet[]) : [raw as RawSet];
    const lineage = masker ? lineageOfResults(text, sets.length) : [];
    let maskedCells = 0;
    const out: ResultSet[] = [];
    for (const [i, set] of sets.entries()) {
      const cols = set.columns ?? [];
      const plans = masker && cols.length ? await buildFieldPlans(cols.map(toField), { masker, metadata: metadataFor(target), ...lineage[i], connection: target.ref.name }) : null;
      const rows: (string | null)[][] = [];
      for (const row of set.slice(0, MAX_ROWS)) {
        const masked = plans && masker ? maskRow(row, plans as FieldPlan[], masker) : null;
        if (masked) maskedCells += masked.masked;
        rows.push((masked?.values ?? row).map((v) => (v === null ? null : v.toString("utf8"))));
      }
      out.push({ command: set.command ?? "", rowCount: set.count ?? set.length, columns: cols.map((c) => c.name), rows, truncated: set.length > MAX_ROWS });
    }
    return { sets: out, maskedCells, durationMs };
  } finally {
    clearTimeout(killer);
    await sql.end({ timeout: 1 }).catch(() => {});
  }
}

function isResult(x: unknown): x is RawSet {
  return Array.isArray(x) && "command" in x && "columns" in x;
}

function toField(c: RawColumn): FieldDescription {
  // Text format always: simple Query results are text, and postgres-js binds results as text.
  return { name: c.name, tableOid: c.table, columnAttr: c.number, typeOid: c.type, typeSize: -1, typeMod: -1, format: 0 };
}

/** What the recording keeps of a result: counts and the first rows as the agent saw them. */
export function sampleOf(outcome: SqlOutcome) {
  const first = outcome.sets.find((s) => s.columns.length) ?? outcome.sets[0];
  return { columns: first?.columns ?? [], rows: first?.rows.slice(0, SAMPLE_ROWS) ?? [] };
}
