import type { Db } from "@/db/client";
import { getBus, Topics } from "@/lib/events/bus";
import { appendSessionEvents, type SessionEventRow } from "@/lib/services/sessions/append-events";

/**
 * Batches a session's events into `session_events` (the single recording format) and publishes
 * each one on the bus for live viewers. Writes are batched (every FLUSH_MS or MAX_BATCH events,
 * one statement per batch: append-events.ts) because PGlite serializes everything and
 * PostgreSQL round trips cost more than the events. Each payload is serialized once, when
 * recorded: the same JSON decides the live-view size and goes into the batch insert.
 *
 * Nothing is dropped silently: if the database is unavailable the batch is kept and retried;
 * when the backlog passes MAX_BACKLOG the recorder reports `overflow`, and the session owner must
 * end the session rather than keep serving unrecorded traffic.
 */
export interface RecordedEvent {
  seq: number;
  tMs: number;
  kind: string;
  payload: Record<string, unknown>;
}

const FLUSH_MS = 100;
const MAX_BATCH = 1_000;
const MAX_BACKLOG = 50_000;
/** Live-view messages larger than this are announced without payload; viewers fetch them. */
const MAX_LIVE_PAYLOAD = 6_000;

export class SessionRecorder {
  private seq = 0;
  private queue: SessionEventRow[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private readonly startedAt = Date.now();
  private failures = 0;
  onOverflow: (() => void) | null = null;

  constructor(
    private readonly db: Db,
    readonly sessionId: string,
  ) {}

  record(kind: string, payload: Record<string, unknown>): RecordedEvent {
    const event: RecordedEvent = { seq: ++this.seq, tMs: Date.now() - this.startedAt, kind, payload };
    // PostgreSQL's jsonb rejects U+0000; one NUL in a Bind parameter would otherwise poison every
    // retry of its batch. Stored as U+2400 (SYMBOL FOR NULL) so the recording still shows it was there.
    const payloadJson = JSON.stringify(payload, (_k, v) => (typeof v === "string" && v.includes("\0") ? v.replaceAll("\0", "\u2400") : v));
    this.queue.push({ seq: event.seq, tMs: event.tMs, kind, payloadJson });
    const live = payloadJson.length <= MAX_LIVE_PAYLOAD ? event : { ...event, payload: { truncated: true } };
    void getBus().publish(Topics.sessionEvent, { sessionId: this.sessionId, event: live });
    if (this.queue.length >= MAX_BACKLOG) this.onOverflow?.();
    if (this.queue.length >= MAX_BATCH) void this.flush();
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
    return event;
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Writes everything queued so far. Concurrent callers share one flush. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    while (this.flushing) await this.flushing;
    if (!this.queue.length) return;
    const batch = this.queue.splice(0, MAX_BATCH);
    this.flushing = appendSessionEvents(this.db, this.sessionId, batch)
      .then(() => {
        this.failures = 0;
      })
      .catch((err) => {
        // Keep the batch (in order, ahead of newer events) and retry with backoff.
        this.queue.unshift(...batch);
        this.failures++;
        console.error(`[recorder] session ${this.sessionId}: write failed (${this.failures}), retrying:`, (err as Error).message);
      })
      .finally(() => {
        this.flushing = null;
      });
    await this.flushing;
    if (this.queue.length) this.timer ??= setTimeout(() => void this.flush(), this.failures ? Math.min(5000, 200 * 2 ** this.failures) : 0);
  }

  /** Flush until empty or until the deadline; returns how many events could not be written. */
  async close(deadlineMs = 5_000): Promise<number> {
    const until = Date.now() + deadlineMs;
    while (this.queue.length && Date.now() < until) {
      await this.flush();
      if (this.queue.length && this.failures) await new Promise((r) => setTimeout(r, 200));
    }
    if (this.timer) clearTimeout(this.timer);
    return this.queue.length;
  }
}
