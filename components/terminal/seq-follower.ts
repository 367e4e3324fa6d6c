/**
 * Applies a session's events to a viewer exactly once and in seq order, whatever order they
 * arrive in and from wherever: the live socket (which may skip events — a payload over the live
 * size limit arrives as `{truncated: true}`, a message too large for NOTIFY never reaches another
 * process, a socket drops) or the stored events fetched over REST to fill those holes.
 * SeqFollower is pure: no I/O; the caller fetches when `missingAfter` says so (`loadStored`
 * does, with the fetch it is given).
 */
export interface SessionEventMessage {
  seq: number;
  tMs: number;
  kind: string;
  payload: Record<string, unknown>;
}

export class SeqFollower {
  /** next seq to apply; 0 until `start` */
  private next = 0;
  private readonly pending = new Map<number, { e: SessionEventMessage; live: boolean }>();

  constructor(private readonly apply: (e: SessionEventMessage, live: boolean) => void) {}

  get started() {
    return this.next > 0;
  }

  /** seq of the last applied event */
  get applied() {
    return this.next - 1;
  }

  /** Everything up to and including `seq` is already on screen (the tail); apply what follows. */
  start(seq: number) {
    this.next = seq + 1;
    for (const s of this.pending.keys()) if (s < this.next) this.pending.delete(s);
    this.drain();
  }

  /** An event from the live socket. Buffered until `start`, so nothing published meanwhile is lost. */
  live(e: SessionEventMessage) {
    if (typeof e.seq !== "number" || (this.started && e.seq < this.next)) return;
    const have = this.pending.get(e.seq);
    if (!have || isTruncated(have.e)) this.pending.set(e.seq, { e, live: true });
    if (this.started) this.drain();
  }

  /** Stored events (full payloads) from REST, in any order. */
  stored(events: SessionEventMessage[]) {
    for (const e of events) {
      if (e.seq < this.next) continue;
      const have = this.pending.get(e.seq);
      if (!have || isTruncated(have.e)) this.pending.set(e.seq, { e, live: false });
    }
    if (this.started) this.drain();
  }

  /**
   * The seq after which stored events are needed (an event is missing or was announced without
   * its payload), or null when the viewer is complete as far as it knows.
   */
  get missingAfter(): number | null {
    return this.started && this.pending.size ? this.next - 1 : null;
  }

  /** Gives up on a hole that never filled: continues with the next event it has. */
  skipMissing() {
    const have = [...this.pending.keys()].filter((s) => !isTruncated(this.pending.get(s)!.e));
    if (!have.length) return;
    this.next = Math.min(...have);
    for (const s of this.pending.keys()) if (s < this.next) this.pending.delete(s);
    this.drain();
  }

  private drain() {
    for (let p = this.pending.get(this.next); p && !isTruncated(p.e); p = this.pending.get(this.next)) {
      this.pending.delete(this.next);
      this.next++;
      this.apply(p.e, p.live);
    }
  }
}

export function isTruncated(e: SessionEventMessage) {
  return e.payload?.truncated === true;
}

/** Recorded events are stored within ~100 ms: a hole still open after this many fetches 100 ms apart is skipped. */
const FILL_TRIES = 30;

/**
 * Applies stored events to `follower` until it misses nothing: every page after the last applied
 * event, and while a hole stays open, again every 100 ms; a hole that makes no progress for
 * FILL_TRIES fetches is skipped (`onSkip`). The one loop both live views fill holes with.
 */
export async function loadStored(
  follower: SeqFollower,
  fetchAfter: (after: number) => Promise<SessionEventMessage[]>,
  opts: { pageSize: number; stopped: () => boolean; onSkip?: () => void },
): Promise<void> {
  for (let tries = 0; !opts.stopped(); ) {
    const before = follower.applied;
    const got = await fetchAfter(follower.applied);
    follower.stored(got);
    if (got.length === opts.pageSize) continue;
    if (follower.missingAfter === null) return;
    if (follower.applied > before) tries = 0;
    else if (++tries > FILL_TRIES) {
      follower.skipMissing();
      opts.onSkip?.();
      tries = 0;
    } else await new Promise((r) => setTimeout(r, 100));
  }
}
