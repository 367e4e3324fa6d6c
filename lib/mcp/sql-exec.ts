import postgres from "postgres";
import { limitFrom } from "@/lib/auth/caller-caps";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { Masker } from "@/lib/gateway/masking";
import { GatehouseError } from "@/lib/gateway/core/types";
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
 * Results are read in text format (`raw()`), so what is masked is exactly what is shown, and
 * streamed: at most MAX_ROWS rows per result and MAX_RESULT_BYTES in all are kept, the rest
 * only counted. Each result is masked with its own statement's lineage (sql-lineage.ts).
 */
export const MAX_ROWS = 500;
/**
 * Bytes of row values kept for the answer, over all its result sets (run_ssh_command keeps 1 MiB
 * per stream). Rows beyond it are counted, not kept: a result of any size costs the gateway no
 * more memory than this.
 */
export const MAX_RESULT_BYTES = 1 << 20;
/** upstream statement_timeout of every run_sql statement (GATEHOUSE_MCP_STATEMENT_TIMEOUT_MS) */
export const statementTimeoutMs = limitFrom("GATEHOUSE_MCP_STATEMENT_TIMEOUT_MS", 30_000);
/**
 * A statement that ignores statement_timeout (`SET statement_timeout = 0; ...`) is cancelled once
 * it has run this much longer (5 s, or the timeout itself when that is shorter).
 */
const hardKillAfterMs = () => statementTimeoutMs() + Math.min(5_000, statementTimeoutMs());
const SAMPLE_ROWS = 20;

/** The statement was cancelled upstream: it outlived statementTimeoutMs() (and its grace), or its caller went away. */
export class SqlCancelled extends Error {
  readonly code = "57014";
}

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

type Row = (Buffer | null)[];
type RawColumn = { name: string; table: number; number: number; type: number };
type RawSet = Row[] & { command?: string; count?: number | null; columns?: RawColumn[] };

export async function runSqlUpstream(target: UpstreamTarget, text: string, params: (string | null)[] | undefined, masker: Masker | null, signal?: AbortSignal): Promise<SqlOutcome> {
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
    connection: { application_name: "gatehouse-mcp", statement_timeout: statementTimeoutMs() },
  });
  // Rows stream through forEach (never all in memory at once) into what the answer keeps.
  const kept = new Map<RawSet, { rows: Row[]; seen: number }>();
  let budget = MAX_RESULT_BYTES;
  const query = sql.unsafe(text, params ?? []).raw();
  let cancelled: string | null = null;
  // The statement can turn statement_timeout off itself; closing the connection would not stop it
  // (a backend notices a gone client only when it next writes), so it is cancelled upstream. So is
  // the statement of a caller that went away (or cancelled the call) before it finished.
  const cancel = (why: string) => {
    cancelled ??= why;
    void Promise.resolve(query.cancel()).catch(() => {});
    void sql.end({ timeout: 0 });
  };
  const killer = setTimeout(() => cancel(`the statement ran longer than ${hardKillAfterMs() / 1000} s and was cancelled`), hardKillAfterMs());
  const gone = () => cancel("the MCP client went away or cancelled the call before the statement finished; it was cancelled");
  if (signal?.aborted) gone();
  signal?.addEventListener("abort", gone, { once: true });
  const started = performance.now();
  try {
    let raw: unknown;
    try {
      raw = await query.forEach((row, result) => {
        const set = result as unknown as RawSet;
        let k = kept.get(set);
        if (!k) kept.set(set, (k = { rows: [], seen: 0 }));
        k.seen++;
        const values = row as unknown as Row;
        const size = values.reduce((n, v) => n + (v?.length ?? 0), 0);
        if (k.rows.length >= MAX_ROWS) return;
        if (size > budget) return void (budget = 0); // the answer keeps a prefix of the rows
        budget -= size;
        // a copy: postgres-js hands out slices of its read buffer, which a kept slice would pin
        k.rows.push(values.map((v) => (v === null ? null : Buffer.from(v))));
      });
    } catch (err) {
      if (cancelled) throw new SqlCancelled(cancelled);
      throw err;
    }
    const durationMs = Math.round((performance.now() - started) * 100) / 100;
    // One statement resolves to one result; several to an array of results. COPY resolves to a
    // stream, whose rows could not be masked here: refused (the connection's end aborts it).
    const sets = (Array.isArray(raw) && raw.length > 0 && isResult(raw[0]) ? raw : [raw]) as RawSet[];
    if (!sets.every(isResult)) throw new GatehouseError("INVALID", "COPY to or from the client is not available through run_sql");
    const lineage = masker ? lineageOfResults(text, sets.length) : [];
    let maskedCells = 0;
    const out: ResultSet[] = [];
    for (const [i, set] of sets.entries()) {
      const cols = set.columns ?? [];
      const k = kept.get(set) ?? { rows: [], seen: 0 };
      // The catalog answers it uses are checked against the catalog (DDL run on the database directly).
      const metadata = metadataFor(target);
      const plans = masker && cols.length ? await metadata.checked(() => buildFieldPlans(cols.map(toField), { masker, metadata, ...lineage[i], connection: target.ref.name })) : null;
      const rows: (string | null)[][] = [];
      for (const row of k.rows) {
        const masked = plans && masker ? maskRow(row, plans as FieldPlan[], masker) : null;
        if (masked) maskedCells += masked.masked;
        rows.push((masked?.values ?? row).map((v) => (v === null ? null : v.toString("utf8"))));
      }
      out.push({ command: set.command ?? "", rowCount: set.count ?? k.seen, columns: cols.map((c) => c.name), rows, truncated: k.seen > k.rows.length });
    }
    return { sets: out, maskedCells, durationMs };
  } finally {
    clearTimeout(killer);
    signal?.removeEventListener("abort", gone);
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
