import type { Db } from "@/db/client";
import { appendEvents, type SessionEventRow } from "@/lib/services/sessions/append-events";

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
 */

/** Interval between writes; also the most a killed process can lose (see SECURITY.md, Faults). */
export const FLUSH_MS = 100;
/** One statement carries at most this many rows / this much JSON; more is written right after. */
const MAX_ROWS = 5_000;
const MAX_BYTES = 8 * 1024 * 1024;

/** What the writer needs from a recorder. */
export interface EventSource {
  readonly sessionId: string;
  /** rows recorded and not yet taken by a write, oldest first (the writer splices from the front) */
  readonly queue: SessionEventRow[];
  /** the writer maintains these: rows taken by the write in progress, consecutive failures, backoff */
  inFlight: number;
  failures: number;
  retryAt: number;
}

interface Part {
  src: EventSource;
  rows: SessionEventRow[];
}

export class EventWriter {
  private readonly sources = new Set<EventSource>();
  private readonly forgotten = new WeakSet<EventSource>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly db: Db) {}

  /** A source has new rows: write them within FLUSH_MS (at once when a statement's worth is waiting). */
  schedule(src: EventSource) {
    this.sources.add(src);
    if (src.queue.length >= MAX_ROWS && !this.running) void this.drain();
    else this.timer ??= setTimeout(() => void this.drain(), FLUSH_MS);
  }

  /** The source is gone (its session closed): whatever it still holds is no longer retried. */
  forget(src: EventSource) {
    this.sources.delete(src);
    this.forgotten.add(src);
  }

  /** Writes until `done()` or until a round writes nothing; ignores backoff (a caller is waiting). */
  async flushUntil(done: () => boolean): Promise<void> {
    for (let round = 0; round < 1_000 && !done(); round++) {
      while (this.running) await this.running;
      if (done()) return;
      if ((await this.run(true)) === "none") return;
    }
  }

  private async drain(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    // A full statement's worth written: more is probably waiting, and waiting FLUSH_MS per
    // MAX_ROWS would cap the gateway's throughput at the timer instead of the database.
    // One write at a time (a flush() may have started one meanwhile): a session's rows stay in order.
    for (;;) {
      while (this.running) await this.running;
      if ((await this.run(false)) !== "full") break;
    }
    this.reschedule();
  }

  private reschedule() {
    if (this.timer || this.running) return;
    let next = Infinity;
    for (const s of this.sources) if (s.queue.length) next = Math.min(next, s.failures ? s.retryAt : 0);
    if (next === Infinity) return;
    this.timer = setTimeout(() => void this.drain(), Math.max(next === 0 ? FLUSH_MS : next - Date.now(), 0));
  }

  /** One write of everything due, at most one statement's worth: whether none, some or a full statement's worth was written. */
  private run(ignoreBackoff: boolean): Promise<"none" | "some" | "full"> {
    const { parts, full } = this.take(ignoreBackoff);
    if (!parts.length) return Promise.resolve("none");
    let outcome: "none" | "some" | "full" = "none";
    const p = this.write(parts)
      .then((n) => {
        outcome = n === 0 ? "none" : full ? "full" : "some";
      })
      .finally(() => {
        this.running = null;
      });
    this.running = p;
    return p.then(() => outcome);
  }

  private take(ignoreBackoff: boolean): { parts: Part[]; full: boolean } {
    const now = Date.now();
    const parts: Part[] = [];
    let rows = 0;
    let bytes = 0;
    for (const src of this.sources) {
      if (!src.queue.length) {
        this.sources.delete(src);
        continue;
      }
      if (src.failures && src.retryAt > now && !ignoreBackoff) continue;
      let n = 0;
      while (n < src.queue.length && rows < MAX_ROWS && (bytes < MAX_BYTES || rows === 0)) {
        bytes += src.queue[n].payloadJson.length + 64;
        rows++;
        n++;
      }
      if (n) {
        parts.push({ src, rows: src.queue.splice(0, n) });
        src.inFlight += n;
      }
      if (rows >= MAX_ROWS || bytes >= MAX_BYTES) return { parts, full: true };
    }
    return { parts, full: false };
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
  }

  private failed(p: Part, err: Error) {
    p.src.inFlight -= p.rows.length;
    p.src.queue.unshift(...p.rows);
    if (!this.forgotten.has(p.src)) this.sources.add(p.src);
    p.src.failures++;
    p.src.retryAt = Date.now() + Math.min(5_000, 200 * 2 ** p.src.failures);
    console.error(`[recorder] session ${p.src.sessionId}: write failed (${p.src.failures}), retrying:`, err.message);
  }
}

const writers = new WeakMap<Db, EventWriter>();

export function eventWriterFor(db: Db): EventWriter {
  let w = writers.get(db);
  if (!w) writers.set(db, (w = new EventWriter(db)));
  return w;
}
