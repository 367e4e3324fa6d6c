import type { StatsBucket, StatsRange } from "@/lib/api-types/stats";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** 24 h is plotted per hour, 7 and 30 days per day; the last bucket is the current, unfinished one. */
export const RANGES: Record<StatsRange, { unit: "hour" | "day"; buckets: number; ms: number }> = {
  "24h": { unit: "hour", buckets: 24, ms: HOUR },
  "7d": { unit: "day", buckets: 7, ms: DAY },
  "30d": { unit: "day", buckets: 30, ms: DAY },
};

/** The first bucket's start, given the start of the current one (both UTC epoch ms). */
export function rangeStart(range: StatsRange, currentBucket: number): number {
  const r = RANGES[range];
  return currentBucket - (r.buckets - 1) * r.ms;
}

/**
 * Every bucket of the range, in order, each with every series (zero where no row said otherwise):
 * the plot needs the empty hours too, and a series that never occurred still has its column.
 * Rows outside the range or of unknown series are dropped, not guessed into a neighbour.
 */
export function fillBuckets<K extends string>(range: StatsRange, from: number, series: readonly K[], rows: readonly { bucket: number; key: string; n: number }[]): StatsBucket<K>[] {
  const r = RANGES[range];
  const out: StatsBucket<K>[] = Array.from({ length: r.buckets }, (_, i) => ({ start: from + i * r.ms, counts: Object.fromEntries(series.map((s) => [s, 0])) as Record<K, number> }));
  const known = new Set<string>(series);
  for (const row of rows) {
    const i = Math.round((row.bucket - from) / r.ms);
    if (i < 0 || i >= out.length || !known.has(row.key)) continue;
    out[i].counts[row.key as K] += row.n;
  }
  return out;
}
