import type { AuditEntry } from "./append";

interface Window {
  /** the latest refusal folded into the count: its subject and detail head the counted row */
  last: AuditEntry;
  since: number;
  until: number;
  /** refusals written one by one in this window (at most `burst`) */
  written: number;
  /** refusals after those, not yet written */
  repeated: number;
  /** when the count in `repeated` began: the window's start, or when the last count was written */
  countedSince: number;
}

/**
 * Bounds what a flood of refused credentials costs the audit log without losing the evidence:
 * the first `burst` refusals of a key (who claimed what, from where) in a window are written at
 * once, each with its reason — a person mistyping, a few stale tokens; the ones after them in the
 * same window are counted and written as one row with the count when the window closes. The
 * first refusal of a new key is always written at once; a refusal is never dropped, only folded
 * into a count. So a key costs at most burst + 1 rows per window, however fast it is tried.
 *
 * Per process, in memory: at most `maxOpen` windows; opening one more closes the oldest (its
 * count is written then). A count is written at the latest `flushMs` after it began, even in a
 * window still open, so a process killed outright loses at most that much of it; a process that
 * stops writes every count it holds (`flush`) and, from then on, every refusal one by one.
 */
export class RefusalCoalescer {
  private open = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;
  private flushed = false;

  constructor(
    private readonly write: (entry: AuditEntry) => Promise<void>,
    private readonly windowMs: number,
    private readonly burst = 1,
    private readonly maxOpen = 10_000,
    private readonly flushMs = Infinity,
  ) {}

  async refuse(key: string, entry: AuditEntry, now = Date.now()): Promise<void> {
    if (this.flushed) return this.write(entry);
    const w = this.open.get(key);
    if (w && w.until > now) {
      if (w.written < this.burst) {
        w.written++;
        return this.write(entry);
      }
      w.repeated++;
      w.last = entry;
      return;
    }
    if (w) await this.close(key, w);
    if (this.open.size >= this.maxOpen) {
      const [oldest, ow] = this.open.entries().next().value!;
      await this.close(oldest, ow);
    }
    this.open.set(key, { last: entry, since: now, until: now + this.windowMs, written: 1, repeated: 0, countedSince: now });
    this.schedule();
    await this.write(entry);
  }

  /** Writes the counts of every window that has run out, and of those counting for `flushMs` (the timer calls it). */
  async sweep(now = Date.now()): Promise<void> {
    for (const [key, w] of [...this.open]) {
      if (w.until <= now) await this.close(key, w);
      else if (w.repeated && now - w.countedSince >= this.flushMs) await this.writeCount(w, now);
    }
  }

  /** At shutdown: every count held is written now; later refusals are written one by one. */
  async flush(now = Date.now()): Promise<void> {
    this.flushed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    for (const [key, w] of [...this.open]) await this.close(key, w, Math.min(now, w.until));
  }

  private async close(key: string, w: Window, until = w.until) {
    this.open.delete(key);
    if (w.repeated) await this.writeCount(w, until);
  }

  /** `since`..`until`: when the refusals counted in this row happened. */
  private async writeCount(w: Window, until: number) {
    const repeated = w.repeated;
    const since = w.countedSince;
    w.repeated = 0;
    w.countedSince = until;
    await this.write({
      action: w.last.action,
      subject: w.last.subject,
      detail: { ...w.last.detail, repeated, since: new Date(since).toISOString(), until: new Date(until).toISOString() },
    });
  }

  private schedule() {
    if (this.timer) return;
    this.timer = setInterval(() => {
      void this.sweep().then(() => {
        if (!this.open.size && this.timer) {
          clearInterval(this.timer);
          this.timer = null;
        }
      });
    }, Math.max(Math.min(this.windowMs / 2, this.flushMs), 50));
    this.timer.unref();
  }
}
