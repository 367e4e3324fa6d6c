import { performance } from "node:perf_hooks";
import type { Db } from "@/db/client";
import { appendEvents, type SessionEventRow } from "@/lib/services/sessions/append-events";
import type { RecordingDigest } from "./recording-digest";
import { serialize } from "./serialize";
import type { OutputPacker } from "./packed-output";
import { processSpool, type SpoolRef } from "./spool";
import { loggable } from "@/lib/util/loggable";

/**
 * The process's one writer of session events per database: every FLUSH_MS it writes what all
 * live sessions recorded as ONE insert, instead of one per session. On PGlite every statement
 * runs on the gateway's thread and has a fixed cost; with hundreds of sessions, per-session
 * batches were mostly that fixed cost.
 *
 * Lossless and in order: a session's rows leave its queue only into one write at a time and
 * return to the front of the queue when the write fails. A shared write that fails is retried
 * per session at once, so one session whose events the database refuses cannot hold back the
 * others; that session alone backs off, and its recorder reports overflow if the backlog grows.
 *
 * Bulk output waits in the spool (spool.ts) and is packed and stored from there, at a pace that
 * leaves the thread to the relay: while the process is busy with other work, spooled output gets
 * BUSY_SHARE of the time (more as the spool fills); when it is not, the writer catches up at full speed.
 */

/** Interval between writes; also the most a killed process can lose (see SECURITY.md, Faults). */
export const FLUSH_MS = 100;
/** One statement carries at most this many rows / this much JSON; more is written right after. */
const MAX_ROWS = 5_000;
const MAX_BYTES = 8 * 1024 * 1024;
/**
 * Spooled bytes per statement, on either store. On PGlite a statement holds the gateway's thread
 * (1 MiB: ~5–15 ms). On PostgreSQL too, though less: postgres.js sends bytea parameters as hex
 * text, built and copied on this thread (8 MiB statements held it for up to ~300 ms at a time
 * while a bulk transfer was being stored, and every live terminal of the process echoed
 * keystrokes that late).
 */
const MAX_BULK_BYTES = 1024 * 1024;
/** Above this event-loop utilization (not counting the writer), the process is busy relaying... */
const BUSY_UTILIZATION = 0.5;
/** ...and the writer takes at most this share of the thread for spooled output... */
const BUSY_SHARE = 0.05;
/** ...rising to this share as the spool grows from SPOOL_EASY to SPOOL_FULL: a stream that never
 * pauses then slows down to what the database stores, instead of filling the disk. */
const MAX_SHARE = 0.5;
const SPOOL_EASY = 256 * 2 ** 20;
const SPOOL_FULL = 2 * 2 ** 30;

/** A recorded row: serialized, or bytes in the spool that the writer reads back and packs when it takes them. */
export interface QueuedEvent extends SessionEventRow {
  /** payloadJson is serialize()'s canonical spelling: chained as it is (recording-digest.ts) */
  canonical?: boolean;
  spooled?: { ref: SpoolRef; fields: Record<string, unknown>; packer: OutputPacker };
}

/** What the writer needs from a recorder. */
export interface EventSource {
  readonly sessionId: string;
  /** rows recorded and not yet taken by a write, oldest first (the writer splices from the front) */
  readonly queue: QueuedEvent[];
  /** the writer maintains these: rows taken by the write in progress, consecutive failures, backoff */
  inFlight: number;
  /** rows whose bytes are in the spool, until stored */
  spooled: number;
  failures: number;
  retryAt: number;
  /**
   * The recording's chain over the rows stored, fed as each write succeeds (a session's rows are
   * written in order, one write at a time): the seal, so that an edit made in the database before
   * the session ends is caught as surely as one made after it (recording-digest.ts).
   */
  readonly recorded?: RecordingDigest;
}

interface Part {
  src: EventSource;
  rows: QueuedEvent[];
}

export class EventWriter {
  private readonly sources = new Set<EventSource>();
  private readonly forgotten = new WeakSet<EventSource>();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = 0;
  private running: Promise<void> | null = null;
  /** one drain loop at a time: while it paces, rows that arrive wait for it, not for a second loop */
  private draining = false;
  /** event-loop utilization at the last pacing decision, and the writer's own time since */
  private elu = performance.eventLoopUtilization();
  private ownMs = 0;
  private othersBusy = false;
  /** Date.now() before which spooled rows stay in the spool (pacing); other rows are not paced */
  private bulkResumeAt = 0;

  constructor(private readonly db: Db) {}

  /** A source has new rows: write them within FLUSH_MS (at once when a statement's worth is waiting). */
  schedule(src: EventSource) {
    this.sources.add(src);
    // A drain in progress (writing, or pacing between statements) takes new rows as it goes.
    if (this.draining) return;
    if (src.queue.length >= MAX_ROWS && !this.running) void this.drain();
    // a timer set for paced spooled rows may be far off: these rows are due within FLUSH_MS
    else if (!this.timer || this.timerAt > Date.now() + FLUSH_MS) this.setTimer(FLUSH_MS);
  }

  private setTimer(ms: number) {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = Date.now() + ms;
    this.timer = setTimeout(() => void this.drain(), ms);
  }

  /**
   * The source is gone (its session closed before the database took everything): its rows are
   * no longer retried here. Rows held only in memory are lost (the caller reports how many);
   * rows whose bytes are in the spool stay there: their segment file is kept, and the next
   * process to start stores them (recoverSpools).
   */
  forget(src: EventSource) {
    this.sources.delete(src);
    this.forgotten.add(src);
  }

  /**
   * Writes until `done()` or until a round writes nothing; ignores backoff and pacing (a caller is
   * waiting), but yields to the relay between statements.
   */
  async flushUntil(done: () => boolean): Promise<void> {
    for (let round = 0; round < 100_000 && !done(); round++) {
      while (this.running) await this.running;
      if (done()) return;
      if ((await this.run(true, true)).outcome === "none") return;
      await new Promise((r) => setImmediate(r));
    }
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // A full statement's worth written: more is probably waiting, and waiting FLUSH_MS per
    // MAX_ROWS would cap the gateway's throughput at the timer instead of the database.
    // One write at a time (a flush() may have started one meanwhile): a session's rows stay in order.
    try {
      for (;;) {
        while (this.running) await this.running;
        const t0 = performance.now();
        const { outcome, bulk } = await this.run(false, false);
        this.pace(performance.now() - t0, bulk);
        if (outcome !== "full") break;
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      console.error(`[recorder] event writer:`, loggable(err));
    } finally {
      this.draining = false;
    }
    this.reschedule();
  }

  /**
   * After a statement: while the process is busy, spooled rows wait long enough that storing
   * them takes BUSY_SHARE of the thread (more as the spool fills); other rows are never held back.
   * Busy = output is being spooled right now (a bulk stream is running), or, over the last
   * ≥ 100 ms, the thread spent more than BUSY_UTILIZATION on work other than this writer.
   */
  private pace(statementMs: number, bulkBytes: number) {
    this.ownMs += statementMs;
    const now = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(now, this.elu);
    if (d.idle + d.active >= 100) {
      this.othersBusy = Math.max(0, d.active - this.ownMs) / (d.idle + d.active) > BUSY_UTILIZATION;
      this.elu = now;
      this.ownMs = 0;
    }
    if (!bulkBytes) return;
    const spool = processSpool();
    const busy = this.othersBusy || performance.now() - spool.lastAppendAt < 100;
    const fill = Math.min(1, Math.max(0, (spool.pendingBytes - SPOOL_EASY) / (SPOOL_FULL - SPOOL_EASY)));
    const share = BUSY_SHARE + (MAX_SHARE - BUSY_SHARE) * fill;
    this.bulkResumeAt = busy ? Date.now() + Math.min(statementMs * (1 / share - 1), 1_000) : 0;
  }

  private reschedule() {
    if (this.timer || this.draining) return;
    let next = Infinity;
    for (const s of this.sources) {
      if (!s.queue.length) continue;
      const paced = s.queue[0].spooled && this.bulkResumeAt > Date.now() ? this.bulkResumeAt : 0;
      next = Math.min(next, Math.max(s.failures ? s.retryAt : 0, paced));
    }
    if (next === Infinity) return;
    this.setTimer(Math.max(next === 0 ? FLUSH_MS : next - Date.now(), 0));
  }

  /**
   * One write of everything due, at most one statement's worth: whether none, some or a full
   * statement's worth was written, and how many spooled bytes it took.
   */
  private run(ignoreBackoff: boolean, ignorePacing: boolean): Promise<{ outcome: "none" | "some" | "full"; bulk: number }> {
    const { parts, full, bulk } = this.take(ignoreBackoff, ignorePacing);
    if (!parts.length) return Promise.resolve({ outcome: "none", bulk });
    let outcome: "none" | "some" | "full" = "none";
    const p = this.write(parts)
      .then((n) => {
        outcome = n === 0 ? "none" : full ? "full" : "some";
      })
      .finally(() => {
        this.running = null;
      });
    this.running = p;
    return p.then(() => ({ outcome, bulk }));
  }

  private take(ignoreBackoff: boolean, ignorePacing: boolean): { parts: Part[]; full: boolean; bulk: number } {
    const now = Date.now();
    const parts: Part[] = [];
    let rows = 0;
    let bytes = 0;
    let bulk = 0;
    // While paced, a session's rows are taken up to its next spooled one (its order is kept).
    const bulkBudget = ignorePacing || this.bulkResumeAt <= now ? MAX_BULK_BYTES : 0;
    for (const src of this.sources) {
      if (!src.queue.length) {
        this.sources.delete(src);
        continue;
      }
      if (src.failures && src.retryAt > now && !ignoreBackoff) continue;
      let n = 0;
      while (n < src.queue.length && rows < MAX_ROWS && (bytes < MAX_BYTES || rows === 0)) {
        const row = src.queue[n];
        if (row.spooled && bulk >= bulkBudget && (bulk > 0 || bulkBudget === 0)) break;
        if (row.spooled) bulk += row.spooled.ref.len;
        bytes += row.payloadJson.length + 64;
        rows++;
        n++;
      }
      if (n) {
        const taken = src.queue.splice(0, n);
        for (const row of taken) if (row.spooled && !row.payloadJson) unspool(row);
        parts.push({ src, rows: taken });
        src.inFlight += n;
      }
      if (rows >= MAX_ROWS || bytes >= MAX_BYTES || (bulkBudget > 0 && bulk >= bulkBudget)) return { parts, full: true, bulk };
    }
    return { parts, full: false, bulk };
  }

  /** Returns how many rows were written; failed rows are back at the front of their queues. */
  private async write(parts: Part[]): Promise<number> {
    try {
      await appendEvents(this.db, parts.map((p) => ({ sessionId: p.src.sessionId, rows: p.rows })));
      for (const p of parts) this.succeeded(p);
      return parts.reduce((n, p) => n + p.rows.length, 0);
    } catch (err) {
      if (parts.length === 1) {
        this.failed(parts[0], err as Error);
        return 0;
      }
    }
    // Isolate the session whose rows the database refuses (or find that the database is down).
    let written = 0;
    for (const p of parts) {
      try {
        await appendEvents(this.db, [{ sessionId: p.src.sessionId, rows: p.rows }]);
        this.succeeded(p);
        written += p.rows.length;
      } catch (err) {
        this.failed(p, err as Error);
      }
    }
    return written;
  }

  private succeeded(p: Part) {
    p.src.inFlight -= p.rows.length;
    p.src.failures = 0;
    for (const row of p.rows) {
      p.src.recorded?.add({ seq: row.seq, tMs: row.tMs, kind: row.kind, payload: row.payloadJson, canonical: row.canonical, data: row.data ?? null });
      release(p.src, row);
    }
  }

  private failed(p: Part, err: Error) {
    p.src.inFlight -= p.rows.length;
    p.src.queue.unshift(...p.rows);
    if (!this.forgotten.has(p.src)) this.sources.add(p.src);
    p.src.failures++;
    p.src.retryAt = Date.now() + Math.min(5_000, 200 * 2 ** p.src.failures);
    // Never err.message: drizzle puts the query's parameters there, which are the recorded events.
    console.error(`[recorder] session ${p.src.sessionId}: write failed (${p.src.failures}), retrying:`, loggable(err));
  }
}

/**
 * A spooled row becomes a storable one: its bytes read back from the spool and packed (deflated
 * when that pays). It keeps its spool reference until stored, so a failed write retries from memory.
 */
function unspool(row: QueuedEvent) {
  const { ref, fields, packer } = row.spooled!;
  try {
    const packed = packer.pack(ref.segment.read(ref));
    row.data = packed.data;
    row.payloadJson = serialize({ ...fields, n: ref.len, bin: packed.bin });
    row.canonical = true;
  } catch (err) {
    // The spool file was damaged or removed under us: the loss is recorded, not silent.
    row.payloadJson = serialize({ ...fields, error: `${ref.len} bytes of output lost from the spool: ${(err as Error).message}` });
    row.canonical = true;
  }
}

function release(src: EventSource, row: QueuedEvent) {
  if (!row.spooled) return;
  row.spooled.ref.segment.stored();
  row.spooled = undefined;
  src.spooled--;
}

const writers = new WeakMap<Db, EventWriter>();

export function eventWriterFor(db: Db): EventWriter {
  let w = writers.get(db);
  if (!w) writers.set(db, (w = new EventWriter(db)));
  return w;
}
