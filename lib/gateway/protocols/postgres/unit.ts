import type { GatewaySession } from "@/lib/gateway/core/session";
import type { Masker } from "@/lib/gateway/masking";

/**
 * One decided request (a simple Query, an extended batch up to Sync, a FunctionCall) as the
 * relay sees its results: counters and a capped sample of what the client received (after
 * masking), recorded once at ReadyForQuery.
 */
export interface SampleLimits {
  rows: number;
  bytes: number;
}

export const DEFAULT_SAMPLE: SampleLimits = { rows: 100, bytes: 64 * 1024 };

export class ResultUnit {
  readonly startedAt = performance.now();
  rows = 0;
  maskedCells = 0;
  tags: string[] = [];
  error: { code: string; message: string } | null = null;
  columns: string[] = [];
  /**
   * What the client itself sent for this request (statement texts, Bind parameters): what a
   * masked error or notice may quote back (server-messages.ts). null: not known.
   */
  clientText: string | null = null;
  sample: (string | null)[][] = [];
  /** called once its results are complete (what it kept open ends: long-running.ts) */
  onDone: (() => void) | null = null;
  /** set when the session ended before the upstream's answer: why the outcome is not known */
  incomplete: string | null = null;
  private sampleBytes = 0;
  private recorded = false;

  constructor(
    readonly requestSeq: number,
    readonly masker: Masker | null,
    private readonly limits: SampleLimits,
  ) {}

  /** Keeps the first rows (as sent to the client) until a limit is reached. */
  wantsSample(): boolean {
    return this.sample.length < this.limits.rows && this.sampleBytes < this.limits.bytes;
  }

  addSample(values: readonly (Buffer | null)[], formats: readonly number[]) {
    const row = values.map((v, i) => (v === null ? null : formats[i] === 1 ? `\\x${v.subarray(0, 64).toString("hex")}` : v.toString("utf8")));
    for (const v of row) this.sampleBytes += v?.length ?? 4;
    this.sample.push(row);
  }

  record(session: GatewaySession) {
    if (this.recorded) return;
    this.recorded = true;
    session.recordResult(this.requestSeq, {
      tag: this.tags.length <= 1 ? (this.tags[0] ?? null) : this.tags.join("; "),
      rows: this.rows,
      durationMs: Math.round((performance.now() - this.startedAt) * 100) / 100,
      maskedCells: this.maskedCells,
      maskCounts: this.masker?.counts() ?? [],
      ...(this.error ? { error: this.error } : {}),
      ...(this.incomplete ? { incomplete: this.incomplete } : {}),
      sample: { columns: this.columns, rows: this.sample },
    });
  }
}

export function sampleLimitsOf(options: Record<string, unknown>): SampleLimits {
  const n = (v: unknown, fallback: number, max: number) => (typeof v === "number" && Number.isInteger(v) && v >= 0 ? Math.min(v, max) : fallback);
  return { rows: n(options.sampleRows, DEFAULT_SAMPLE.rows, 10_000), bytes: n(options.sampleBytes, DEFAULT_SAMPLE.bytes, 4 * 1024 * 1024) };
}
