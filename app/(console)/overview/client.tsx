"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { api } from "@/components/api";
import { StackedBars } from "@/components/charts/stacked-bars";
import { Card, ErrorText, PageHeader, Table } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";
import { useThrottled } from "@/components/use-throttled";
import type { StatsJson, StatsRange } from "@/lib/api-types/stats";
import { bucketLabel, OUTCOME_COLORS, seconds, SESSION_COLORS, VERDICT_COLORS } from "./labels";

const RANGES: { value: StatsRange; label: string }[] = [
  { value: "24h", label: "24 hours" },
  { value: "7d", label: "7 days" },
  { value: "30d", label: "30 days" },
];

export function OverviewClient({ all }: { all: boolean }) {
  const qc = useQueryClient();
  const [range, setRange] = useState<StatsRange>("7d");
  const stats = useQuery({ queryKey: ["stats", range], queryFn: () => api<StatsJson>(`/stats?range=${range}`), refetchInterval: 15_000 });
  // Counts come only through the authorized route: an event just says it is time to ask again
  // (at most every 2 s, however many sessions a busy gateway starts meanwhile).
  const refresh = useThrottled(() => void qc.invalidateQueries({ queryKey: ["stats"] }), 2000);
  useLiveEvents(["session.started", "session.ended", "approval.created", "approval.decided"], refresh);
  const s = stats.data;
  const label = bucketLabel(s?.unit ?? (range === "24h" ? "hour" : "day"));
  const per = range === "24h" ? "hour" : "day";

  return (
    <div className="space-y-5">
      <PageHeader
        title="Overview"
        description={all ? "Sessions, decisions and approvals across every gateway (times in UTC)." : "Your sessions, decisions and approval requests (times in UTC)."}
        actions={
          <div role="group" aria-label="Range" className="inline-flex overflow-hidden rounded-md border border-slate-300">
            {RANGES.map((r) => (
              <button key={r.value} type="button" aria-pressed={range === r.value} onClick={() => setRange(r.value)} className={`px-3 py-1.5 text-sm ${range === r.value ? "bg-brand text-white" : "bg-white text-slate-700 hover:bg-slate-100"}`}>
                {r.label}
              </button>
            ))}
          </div>
        }
      />
      <ErrorText error={stats.error} />
      {s && s.range === range && (
        <>
          <div className="grid gap-4 md:grid-cols-4">
            <Stat testId="live-total" label="Live sessions" value={s.live.total} detail={SESSION_COLORS.filter((c) => s.live.bySeries[c.key]).map((c) => `${c.label} ${s.live.bySeries[c.key]}`).join(" · ") || "none"} />
            <Stat testId="approvals-pending" label="Approvals pending" value={s.approvals.pending} />
            <Stat testId="approvals-median" label="Median time to decision" value={seconds(s.approvals.medianSeconds)} />
            <Stat testId="approvals-p90" label="90th percentile" value={seconds(s.approvals.p90Seconds)} />
          </div>
          <Card title={`Sessions started per ${per}`}>
            <StackedBars testId="chart-sessions" title={`Sessions started per ${per}, by protocol or origin`} summary={summary(s.sessions)} buckets={s.sessions} series={SESSION_COLORS} label={label} />
          </Card>
          <div className="grid gap-4 lg:grid-cols-3">
            <div className="lg:col-span-2">
              <Card title={`Decisions per ${per}`}>
                <StackedBars testId="chart-decisions" title={`Decisions per ${per}, by verdict`} summary={summary(s.decisions)} buckets={s.decisions} series={VERDICT_COLORS} label={label} />
              </Card>
            </div>
            <Card title="Top deny reasons">
              <Ranked testId="deny-reasons" rows={s.topDenyReasons.map((r) => ({ name: r.reason || "(no reason recorded)", count: r.count }))} />
              <h3 className="mt-4 mb-1 text-xs font-semibold uppercase tracking-wide text-slate-500">Deciding policies</h3>
              <Ranked testId="deny-policies" rows={s.topDenyPolicies.map((r) => ({ name: r.policy, count: r.count }))} />
            </Card>
          </div>
          <Card title={`Approvals decided per ${per}`}>
            <StackedBars testId="chart-approvals" title={`Approval requests decided per ${per}`} summary={summary(s.approvals.decided)} buckets={s.approvals.decided} series={OUTCOME_COLORS} label={label} />
          </Card>
          {s.nodes && (
            <Card title="Gateway nodes">
              {s.nodes.length === 0 ? (
                <p className="text-sm text-slate-600">One process on the embedded database: no heartbeats to show.</p>
              ) : (
                <Table head={["Node", "Last heartbeat", "Live sessions", "State"]}>
                  {s.nodes.map((n) => (
                    <tr key={n.nodeId} data-testid={`node-${n.nodeId}`}>
                      <td className="px-2 py-1.5 font-mono text-xs">{n.nodeId}</td>
                      <td className="px-2 py-1.5">{seconds(n.silentSeconds)} ago</td>
                      <td className="px-2 py-1.5">{n.liveSessions}</td>
                      <td className="px-2 py-1.5">{n.gone ? "gone" : "alive"}</td>
                    </tr>
                  ))}
                </Table>
              )}
            </Card>
          )}
        </>
      )}
    </div>
  );
}

function summary(buckets: { counts: Record<string, number> }[]): string {
  const total = buckets.reduce((a, b) => a + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
  return `${total} in total over ${buckets.length} periods; the table below lists every period.`;
}

function Stat({ label, value, detail, testId }: { label: string; value: number | string; detail?: string; testId: string }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h2 className="text-xs font-medium uppercase tracking-wide text-slate-500">{label}</h2>
      <p className="mt-1 text-2xl font-semibold" data-testid={testId}>{value}</p>
      {detail && <p className="mt-1 text-xs text-slate-600">{detail}</p>}
    </section>
  );
}

function Ranked({ rows, testId }: { rows: { name: string; count: number }[]; testId: string }) {
  if (!rows.length) return <p className="text-sm text-slate-600">None in this range.</p>;
  const max = Math.max(...rows.map((r) => r.count));
  return (
    <ol data-testid={testId} className="space-y-1.5">
      {rows.map((r) => (
        <li key={r.name} className="text-sm">
          <div className="flex justify-between gap-2">
            <span className="truncate" title={r.name}>{r.name}</span>
            <span className="tabular-nums text-slate-600">{r.count}</span>
          </div>
          <div className="h-1.5 rounded bg-red-100" aria-hidden="true">
            <div className="h-1.5 rounded bg-red-500" style={{ width: `${(r.count / max) * 100}%` }} />
          </div>
        </li>
      ))}
    </ol>
  );
}
