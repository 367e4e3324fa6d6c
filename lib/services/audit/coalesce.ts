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
 * count is written then). Counts of windows still open when the process stops are lost; their
 * first refusal was written.
 */
export class RefusalCoalescer {
  private open = new Map<string, Window>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly write: (entry: AuditEntry) => Promise<void>,
    private readonly windowMs: number,
    private readonly burst = 1,
    private readonly maxOpen = 10_000,
  ) {}

  async refuse(key: string, entry: AuditEntry, now = Date.now()): Promise<void> {
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
    this.open.set(key, { last: entry, since: now, until: now + this.windowMs, written: 1, repeated: 0 });
    this.schedule();
    await this.write(entry);
  }

  /** Writes the counts of every window that has run out (the timer calls it). */
  async sweep(now = Date.now()): Promise<void> {
    for (const [key, w] of [...this.open]) if (w.until <= now) await this.close(key, w);
  }

  private async close(key: string, w: Window) {
    this.open.delete(key);
    if (!w.repeated) return;
    await this.write({
      action: w.last.action,
      subject: w.last.subject,
      detail: { ...w.last.detail, repeated: w.repeated, since: new Date(w.since).toISOString(), until: new Date(w.until).toISOString() },
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
    }, Math.max(this.windowMs / 2, 50));
    this.timer.unref();
  }
}
