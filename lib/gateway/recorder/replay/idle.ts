/**
 * Idle-time compression, as asciinema's `idleTimeLimit` does it (every pause longer than the
 * limit is cut to the limit), but computed from a recording's gap table so that the server can
 * hand the player already-compressed windows and the console can map a timeline entry to the
 * player's clock. Pure; used by the server and the browser alike.
 *
 * A gap is `[tEnd, length]` in ms: nothing happened on the terminal during (tEnd - length, tEnd).
 */
export type Gap = [tEnd: number, length: number];

/** Pauses shorter than this are never compressed, so the gap table only keeps longer ones. */
export const MIN_IDLE_MS = 500;

export class IdleCompressor {
  private readonly ends: number[] = [];
  private readonly lengths: number[] = [];
  /** total time removed by gaps[0..i] */
  private readonly removed: number[] = [];

  constructor(
    gaps: readonly Gap[],
    /** null: no compression */
    readonly idleMs: number | null,
  ) {
    if (idleMs === null) return;
    let total = 0;
    for (const [tEnd, length] of gaps) {
      if (length <= idleMs) continue;
      total += length - idleMs;
      this.ends.push(tEnd);
      this.lengths.push(length);
      this.removed.push(total);
    }
  }

  /** Recording time → player time. Monotonic; strictly increasing wherever time was not cut. */
  map(t: number): number {
    if (this.idleMs === null || this.ends.length === 0) return t;
    // first gap that ends after t
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid] <= t) lo = mid + 1;
      else hi = mid;
    }
    const before = lo > 0 ? this.removed[lo - 1] : 0;
    if (lo < this.ends.length) {
      const start = this.ends[lo] - this.lengths[lo];
      if (t > start) return t - before - Math.max(0, t - start - this.idleMs);
    }
    return t - before;
  }

  /** Player time → recording time (the earliest recording time that maps to it). */
  unmap(c: number): number {
    if (this.idleMs === null) return c;
    let removed = 0;
    for (let i = 0; i < this.ends.length; i++) {
      const start = this.ends[i] - this.lengths[i];
      const cStart = start - removed;
      if (c <= cStart) break;
      if (c <= cStart + this.idleMs) return start + (c - cStart);
      removed = this.removed[i];
    }
    return c + removed;
  }

  /** The gaps that matter at this limit (sent to the console with the index, for `map`). */
  get effectiveGaps(): Gap[] {
    return this.ends.map((e, i) => [e, this.lengths[i]]);
  }
}

/** Accepts "2", "0.5", "off", "", null → ms or null (off). Bounded to something sensible. */
export function parseIdleLimit(raw: string | null | undefined): number | null {
  if (raw === null || raw === undefined || raw === "" || raw === "off" || raw === "0") return null;
  const s = Number(raw);
  if (!Number.isFinite(s) || s <= 0) return null;
  return Math.round(Math.min(Math.max(s, MIN_IDLE_MS / 1000), 3600) * 1000);
}
