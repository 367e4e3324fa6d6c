export interface ChartSeries<K extends string> {
  key: K;
  label: string;
  color: string;
}

/**
 * A chart's numbers as a table, visually hidden: what a screen reader (or a copy and paste)
 * gets instead of the bars.
 */
export function DataTable<K extends string>({ caption, rows, series }: { caption: string; rows: { label: string; counts: Record<K, number> }[]; series: ChartSeries<K>[] }) {
  return (
    <table className="sr-only">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Period</th>
          {series.map((s) => <th key={s.key} scope="col">{s.label}</th>)}
          <th scope="col">Total</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.label}>
            <th scope="row">{r.label}</th>
            {series.map((s) => <td key={s.key}>{r.counts[s.key] ?? 0}</td>)}
            <td>{series.reduce((a, s) => a + (r.counts[s.key] ?? 0), 0)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
