import type { Masker } from "@/lib/gateway/masking";
import type { MaskPool } from "./mask-pool";
import type { FieldPlan } from "./masking";
import { MaskedRowWriter } from "./row-writer";
import type { ResultUnit } from "./unit";
import type { Frame } from "./wire";

/** A run of masked rows received together at least this long is shared with the masking worker. */
const PARALLEL_MIN_ROWS = 128;
/** The worker's part of such a run (0.6 measured no different from 0.5: within the noise). */
const WORKER_SHARE = 0.5;
/** Runs being masked at once; one more makes the relay's pump wait (and the upstream pause). */
const MAX_RUNS_IN_FLIGHT = 2;

/**
 * The relay's masked runs of rows (relay.ts `dataRows`): a run is the DataRows of one result that
 * one pump run found received. A long run is masked on two cores — the first half by the masking
 * worker (mask-pool.ts), the second here meanwhile — and both are written, in order, when the
 * worker is done, while the relay goes on with the next run. Everything the relay writes after a
 * run (a later run, a small run, the next frame) goes through `after`, so nothing overtakes it.
 *
 * Fail closed: a failed job calls `fatal` (the session ends); neither that run's rows nor anything
 * chained after it is written.
 */
export class MaskedRuns {
  /** the last run still being masked; later output waits for it (it waits for the ones before) */
  private inflight: Promise<void> | null = null;
  private count = 0;

  constructor(private readonly out: { write(b: Buffer): void; flush(): void; fatal(err: Error): void }) {}

  /** A run is being masked: whatever the relay writes now must go through `after`. */
  get busy(): boolean {
    return this.inflight !== null;
  }

  /** Runs fn once every run in flight is written (at once when none is). */
  after(fn: () => Promise<void> | void): Promise<void> | void {
    return this.inflight ? this.inflight.then(fn) : fn();
  }

  /** Masks and writes one run; returns a promise only when the caller must wait for it. */
  mask(frames: readonly Frame[], plans: readonly FieldPlan[], unit: ResultUnit, masker: Masker, pool: MaskPool): Promise<void> | void {
    unit.rows += frames.length;
    // The worker remakes plans from the columns they were made for (FieldPlan.refs).
    if (frames.length < PARALLEL_MIN_ROWS || !pool.available || !plans.every((p) => p.refs)) {
      return this.after(() => this.out.write(maskRows(frames, plans, unit, masker)));
    }
    const half = Math.round(frames.length * WORKER_SHARE);
    const job = pool.mask(masker, plans, frames.slice(0, half).map((f) => f.raw));
    let rest: Buffer;
    try {
      rest = maskRows(frames.slice(half), plans, unit, masker);
    } catch (err) {
      job.catch(() => {}); // the session ends with err; the job's outcome no longer matters
      throw err;
    }
    // Promise.all handles the job's rejection at once (a job failing while an earlier run is
    // still in flight must not surface as an unhandled rejection).
    const run: Promise<void> = Promise.all([this.inflight, job]).then(([, { out, masked }]) => {
      unit.maskedCells += masked;
      this.out.write(out);
      this.out.write(rest);
      this.out.flush(); // the relay's pump may have finished meanwhile
    });
    this.count++;
    const tracked: Promise<void> = run.finally(() => {
      this.count--;
      if (this.inflight === tracked) this.inflight = null;
    });
    this.inflight = tracked;
    // Nothing may be waiting for it: a failure ends the session here.
    tracked.catch((err: Error) => this.out.fatal(err));
    return this.count > MAX_RUNS_IN_FLIGHT ? tracked : undefined;
  }
}

/** The run's rows as they go to the client, in one buffer. */
function maskRows(frames: readonly Frame[], plans: readonly FieldPlan[], unit: ResultUnit, masker: Masker): Buffer {
  let size = 0;
  for (const f of frames) size += f.raw.length;
  const writer = new MaskedRowWriter(plans, masker, size);
  for (const f of frames) writer.row(f);
  unit.maskedCells += writer.masked;
  return writer.bytes();
}
