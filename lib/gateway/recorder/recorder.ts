import type { Db } from "@/db/client";
import { getBus, Topics } from "@/lib/events/bus";
import type { SessionEventRow } from "@/lib/services/sessions/append-events";
import { eventWriterFor, type EventSource, type EventWriter } from "./event-writer";

/**
 * Records a session's events into `session_events` (the single recording format) and publishes
 * each one for live viewers. Each payload is serialized once, when recorded: the same JSON
 * decides the live-view size and goes into the database.
 *
 * Both paths are batched across all sessions of the process, because per-event costs were the
 * gateway's bottleneck: database writes go through the process's EventWriter (one insert per
 * FLUSH_MS for every session), live events leave every LIVE_MS as one bus publication (on
 * PostgreSQL one NOTIFY per ~8 kB instead of one per event).
 *
 * Nothing is dropped silently: if the database is unavailable the rows are kept and retried;
 * when the backlog passes MAX_BACKLOG the recorder reports `overflow`, and the session owner must
 * end the session rather than keep serving unrecorded traffic.
 */
export interface RecordedEvent {
  seq: number;
  tMs: number;
  kind: string;
  payload: Record<string, unknown>;
}

const MAX_BACKLOG = 50_000;
/** Live-view messages larger than this are announced without payload; viewers fetch them. */
const MAX_LIVE_PAYLOAD = 6_000;
/** Live viewers see events at most this late (the issue asks for 200 ms). */
const LIVE_MS = 40;

export class SessionRecorder implements EventSource {
  private seq = 0;
  readonly queue: SessionEventRow[] = [];
  inFlight = 0;
  failures = 0;
  retryAt = 0;
  private readonly writer: EventWriter;
  private readonly startedAt = Date.now();
  onOverflow: (() => void) | null = null;

  constructor(
    db: Db,
    readonly sessionId: string,
  ) {
    this.writer = eventWriterFor(db);
  }

  /**
   * `live: false` announces the event to live viewers without its payload (they fetch it from
   * the database, unpacked): for payloads in a storage-only encoding.
   */
  record(kind: string, payload: Record<string, unknown>, opts: { live?: boolean } = {}): RecordedEvent {
    const event: RecordedEvent = { seq: ++this.seq, tMs: Date.now() - this.startedAt, kind, payload };
    const payloadJson = serialize(payload);
    this.queue.push({ seq: event.seq, tMs: event.tMs, kind, payloadJson });
    const whole = opts.live !== false && payloadJson.length <= MAX_LIVE_PAYLOAD;
    publishLive({ sessionId: this.sessionId, event: whole ? event : { ...event, payload: { truncated: true } } });
    if (this.pending >= MAX_BACKLOG) this.onOverflow?.();
    this.writer.schedule(this);
    return event;
  }

  /** Events recorded and not yet in the database. */
  get pending(): number {
    return this.queue.length + this.inFlight;
  }

  /** Writes everything recorded so far (returns early, with events still pending, if the database refuses). */
  async flush(): Promise<void> {
    const upTo = this.seq;
    await this.writer.flushUntil(() => this.inFlight === 0 && (this.queue.length === 0 || this.queue[0].seq > upTo));
  }

  /** Flush until empty or until the deadline; returns how many events could not be written. */
  async close(deadlineMs = 5_000): Promise<number> {
    flushLive();
    const until = Date.now() + deadlineMs;
    while (this.pending && Date.now() < until) {
      await this.flush();
      if (this.pending) await new Promise((r) => setTimeout(r, 200));
    }
    this.writer.forget(this);
    return this.pending;
  }
}

/**
 * JSON for jsonb. PostgreSQL's jsonb refuses U+0000 and unpaired surrogates; one such string in
 * a Bind parameter would otherwise poison every retry of its batch. NUL is stored as U+2400
 * (SYMBOL FOR NULL) so the recording still shows it was there; a lone surrogate becomes U+FFFD.
 * JSON.stringify writes both as \u escapes, so the plain result tells whether the slow path is needed.
 */
export function serialize(payload: Record<string, unknown>): string {
  const json = JSON.stringify(payload);
  if (!NEEDS_CLEANING.test(json)) return json;
  return JSON.stringify(payload, (_k, v) => (typeof v === "string" ? v.replaceAll("\0", "\u2400").replace(LONE_SURROGATE, "\ufffd") : v));
}

const NEEDS_CLEANING = /\\u(0000|d[89a-f])/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

let live: { sessionId: string; event: RecordedEvent }[] = [];
let liveTimer: NodeJS.Timeout | null = null;

function publishLive(item: { sessionId: string; event: RecordedEvent }) {
  live.push(item);
  liveTimer ??= setTimeout(flushLive, LIVE_MS);
}

function flushLive() {
  if (liveTimer) clearTimeout(liveTimer);
  liveTimer = null;
  if (!live.length) return;
  const batch = live;
  live = [];
  void getBus().publishMany(Topics.sessionEvent, batch);
}
