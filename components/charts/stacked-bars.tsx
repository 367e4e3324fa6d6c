import { useId } from "react";
import { DataTable, type ChartSeries } from "./data-table";

export type { ChartSeries } from "./data-table";

const W = 640;
const H = 180;
const PAD = { top: 10, right: 8, bottom: 22, left: 34 };

/** A round axis maximum at or above `max` (1, 2, 5 × 10ⁿ), so the gridline labels read easily. */
export function niceMax(max: number): number {
  if (max <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(max));
  return ([1, 2, 5, 10].find((m) => m * p >= max) ?? 10) * p;
}

/** Gridlines at whole counts only: 0, the top, and the middle when it is whole (5 has none at 2.5). */
const ticks = (top: number) => (top % 2 === 0 ? [0, top / 2, top] : [0, top]);

/**
 * Counts per time bucket as stacked bars, drawn as plain SVG. For screen readers the figure is
 * one image with a name and a summary, and the numbers themselves are a table beside it; each
 * segment has its own <title> for pointer users.
 */
export function StackedBars<K extends string>({ title, summary, buckets, series, label, testId }: {
  title: string;
  summary: string;
  buckets: { start: number; counts: Record<K, number> }[];
  series: ChartSeries<K>[];
  /** a bucket's start as shown on the axis and in the table */
  label: (start: number) => string;
  testId: string;
}) {
  const id = useId();
  const totals = buckets.map((b) => series.reduce((a, s) => a + (b.counts[s.key] ?? 0), 0));
  const top = niceMax(Math.max(0, ...totals));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(2, slot * 0.7);
  const y = (n: number) => (n / top) * plotH;
  // at most ~8 axis labels, whatever the number of buckets
  const every = Math.ceil(buckets.length / 8);
  return (
    <figure data-testid={testId} className="max-w-4xl space-y-2">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby={`${id}-t ${id}-d`} className="h-auto w-full">
        <title id={`${id}-t`}>{title}</title>
        <desc id={`${id}-d`}>{summary}</desc>
        {ticks(top).map((n) => (
          <g key={n} aria-hidden="true">
            <line x1={PAD.left} x2={W - PAD.right} y1={PAD.top + plotH - y(n)} y2={PAD.top + plotH - y(n)} className="stroke-slate-200" />
            <text x={PAD.left - 4} y={PAD.top + plotH - y(n) + 3} textAnchor="end" className="fill-slate-500 text-[10px]">{n}</text>
          </g>
        ))}
        {buckets.map((b, i) => {
          let base = PAD.top + plotH;
          const x = PAD.left + i * slot + (slot - barW) / 2;
          return (
            <g key={b.start} data-testid="bar" data-total={totals[i]} data-start={b.start}>
              {series.map((s) => {
                const n = b.counts[s.key] ?? 0;
                if (!n) return null;
                const h = y(n);
                base -= h;
                return (
                  <rect key={s.key} data-series={s.key} x={x} y={base} width={barW} height={h} fill={s.color}>
                    <title>{`${label(b.start)} · ${s.label}: ${n}`}</title>
                  </rect>
                );
              })}
              {i % every === 0 && (
                <text x={x + barW / 2} y={H - 6} textAnchor="middle" aria-hidden="true" className="fill-slate-500 text-[10px]">{label(b.start)}</text>
              )}
            </g>
          );
        })}
      </svg>
      <figcaption className="flex flex-wrap gap-3 text-xs text-slate-600" aria-hidden="true">
        {series.map((s) => (
          <span key={s.key} className="inline-flex items-center gap-1">
            <span className="inline-block h-2.5 w-2.5 rounded-sm" style={{ background: s.color }} />
            {s.label}
          </span>
        ))}
      </figcaption>
      <DataTable caption={title} rows={buckets.map((b) => ({ label: label(b.start), counts: b.counts }))} series={series} />
    </figure>
  );
}
