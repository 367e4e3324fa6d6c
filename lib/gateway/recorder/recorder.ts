import type { Db } from "@/db/client";
import { getBus, Topics } from "@/lib/events/bus";
import { eventWriterFor, type EventSource, type EventWriter, type QueuedEvent } from "./event-writer";
import type { OutputPacker } from "./packed-output";
import { scrubJson } from "./credential-scrub";
import { RecordingDigest } from "./recording-digest";
import { serialize } from "./serialize";
import { MAX_SPOOL_BYTES, processSpool } from "./spool";

/**
 * Records a session's events into `session_events` (the single recording format) and publishes
 * each one for live viewers. Each payload is serialized once, when recorded: the same JSON
 * decides the live-view size and goes into the database.
 *
 * Both paths are batched across all sessions of the process, because per-event costs were the
 * gateway's bottleneck: database writes go through the process's EventWriter (one insert per
 * FLUSH_MS for every session), live events leave every LIVE_MS as one bus publication. On
 * PostgreSQL other processes get a session's events only while one of them watches it (a live
 * viewer there), packed one NOTIFY per ~8 kB: unwatched, recording costs no NOTIFY at all.
 *
 * Bulk output (`recordBulk`) goes to the process's spool on disk and is stored by the writer at
 * its own pace (spool.ts explains why), so memory stays bounded however fast a session prints.
 *
 * Nothing is dropped silently: if the database is unavailable the rows are kept and retried;
 * when the backlog passes MAX_BACKLOG rows in memory (or MAX_SPOOL_BYTES on disk) the recorder
 * reports `overflow`, and the session owner must end the session rather than keep serving
 * unrecorded traffic.
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
  readonly queue: QueuedEvent[] = [];
  inFlight = 0;
  spooled = 0;
  failures = 0;
  retryAt = 0;
  readonly recorded = new RecordingDigest();
  private readonly writer: EventWriter;
  /**
   * Event times come from the monotonic clock: a wall clock stepped back (NTP, a resumed VM) made
   * them run backwards, and replay windows and asciicast assume they never do.
   */
  private readonly startedAt = performance.now();
  onOverflow: (() => void) | null = null;
  private lastRecordAt = 0;

  constructor(
    db: Db,
    readonly sessionId: string,
  ) {
    this.writer = eventWriterFor(db);
  }

  record(kind: string, payload: Record<string, unknown>): RecordedEvent {
    this.lastRecordAt = performance.now();
    const event: RecordedEvent = { seq: ++this.seq, tMs: this.now(), kind, payload };
    const serialized = serialize(payload);
    // Gatehouse's credentials are never recorded, whichever event carries them (credential-scrub.ts).
    const payloadJson = scrubJson(serialized);
    if (payloadJson !== serialized) event.payload = JSON.parse(payloadJson) as Record<string, unknown>;
    // scrubbing rewrites inside strings; what it changed is chained by parsing it again
    this.queue.push({ seq: event.seq, tMs: event.tMs, kind, payloadJson, canonical: payloadJson === serialized });
    const whole = payloadJson.length <= MAX_LIVE_PAYLOAD;
    publishLive({ sessionId: this.sessionId, event: whole ? event : { ...event, payload: { truncated: true } } });
    this.queued();
    return event;
  }

  /**
   * An event whose payload is `fields` plus `bytes` (one buffer, or its parts in order), stored in
   * the `data` column as `packer` decides (packed-output.ts). The bytes go to the spool now; the
   * writer packs and stores them at its pace. Live viewers get the announcement and fetch the
   * event once stored.
   */
  recordBulk(kind: string, fields: Record<string, unknown>, bytes: Buffer | readonly Buffer[], packer: OutputPacker): RecordedEvent {
    this.lastRecordAt = performance.now();
    const event: RecordedEvent = { seq: ++this.seq, tMs: this.now(), kind, payload: fields };
    const row: QueuedEvent = { seq: event.seq, tMs: event.tMs, kind, payloadJson: "" };
    try {
      row.spooled = { ref: processSpool().append({ s: this.sessionId, seq: row.seq, t: row.tMs, k: kind, p: fields }, bytes), fields, packer };
      this.spooled++;
    } catch (err) {
      console.error(`[recorder] spool unavailable, keeping output in memory:`, (err as Error).message);
      const whole = Buffer.isBuffer(bytes) ? bytes : Buffer.concat(bytes);
      const packed = packer.pack(whole);
      row.payloadJson = serialize({ ...fields, n: whole.length, bin: packed.bin });
      row.canonical = true;
      row.data = packed.bin === "raw" ? Buffer.from(packed.data) : packed.data;
    }
    this.queue.push(row);
    publishLive({ sessionId: this.sessionId, event: { ...event, payload: { truncated: true } } });
    this.queued();
    return event;
  }

  private now(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  private queued() {
    if (this.pending - this.spooled >= MAX_BACKLOG || processSpool().pendingBytes >= MAX_SPOOL_BYTES) this.onOverflow?.();
    this.writer.schedule(this);
  }

  /** Milliseconds since the last event was recorded. */
  get idleMs(): number {
    return performance.now() - this.lastRecordAt;
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

  /**
   * Flush until empty, or until the database made no progress for `deadlineMs` (a large spooled
   * backlog takes as long as it takes); returns how many events could not be written and are
   * lost. Bulk output still in the spool is not lost: the next process to start stores it.
   */
  async close(deadlineMs = 5_000): Promise<number> {
    flushLive();
    let until = Date.now() + deadlineMs;
    let left = this.pending;
    while (this.pending && Date.now() < until) {
      await this.flush();
      if (this.pending < left) {
        left = this.pending;
        until = Date.now() + deadlineMs;
      }
      if (this.pending) await new Promise((r) => setTimeout(r, 200));
    }
    this.writer.forget(this);
    const kept = this.queue.filter((row) => row.spooled).length;
    if (kept) console.error(`[recorder] session ${this.sessionId}: ${kept} spooled events left for the next start to store (the database is not taking them)`);
    return this.pending - kept;
  }
}

/**
 * After its session ended, whether the recording is complete: everything stored and nothing
 * recorded for `quietMs` (a request decided while the session was ending is still recorded, after
 * its `end` event). False after `maxMs`, or with events unstored (the database refused them, or
 * output is left in the spool for the next start).
 */
export async function recordingSettled(rec: SessionRecorder, quietMs = 500, maxMs = 10_000): Promise<boolean> {
  const until = performance.now() + maxMs;
  for (;;) {
    await rec.flush();
    if (rec.pending === 0 && rec.idleMs >= quietMs) return true;
    if (performance.now() > until) return false;
    await new Promise((r) => setTimeout(r, Math.max(50, quietMs - rec.idleMs)));
  }
}

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
  void getBus().publishMany(Topics.sessionEvent, batch, { watchKey: (item) => item.sessionId });
}
