"use client";
import { Badge } from "@/components/ui";
import { requestVerdict } from "@/lib/gateway/recorder/request-verdict";
import { resultSummary } from "@/lib/gateway/recorder/result-summary";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export interface SessionEvent { seq: number; tMs: number; kind: string; payload: Record<string, unknown> }

const VERDICT_TONE: Record<string, "green" | "red" | "amber" | "blue"> = { allow: "green", deny: "red", hold: "amber", mask: "blue" };

function fmt(ms: number) {
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(2)}s` : `${Math.floor(s / 60)}m${(s % 60).toFixed(0).padStart(2, "0")}s`;
}

/**
 * Requests with their verdicts and results, grouped by request. All text is rendered as React
 * text nodes (never HTML), so anything a client sent is shown, not executed.
 */
export function EventTimeline({ events }: { events: SessionEvent[] }) {
  const byRequest = new Map<number, SessionEvent[]>();
  for (const e of events) {
    const ref = typeof e.payload.requestSeq === "number" ? (e.payload.requestSeq as number) : null;
    if (ref !== null) byRequest.set(ref, [...(byRequest.get(ref) ?? []), e]);
  }
  // A revocation names the request that once allowed what it ended, but is its own moment.
  const top = events.filter((e) => (typeof e.payload.requestSeq !== "number" || e.kind === "revoked") && e.kind !== "output" && e.kind !== "input" && e.kind !== "resize");
  return (
    <ol className="space-y-2 text-sm" data-testid="event-timeline">
      {top.map((e) => {
        const related = byRequest.get(e.seq) ?? [];
        const verdict = e.kind === "request" || e.kind === "connect" ? requestVerdict(e, related) : undefined;
        const result = related.find((r) => r.kind === "result")?.payload;
        const approval = related.filter((r) => r.kind === "held" || r.kind === "approval").map((r) => r.payload);
        return (
          <li key={e.seq} className="rounded border border-slate-100 p-2" data-testid={`event-${e.seq}`}>
            <div className="flex items-center gap-2 text-xs text-slate-500">
              <span className="font-mono">{fmt(e.tMs)}</span>
              <Badge>{e.kind}</Badge>
              {verdict && <Badge tone={VERDICT_TONE[String(verdict.verdict)] ?? "slate"}>{String(verdict.verdict)}</Badge>}
              {typeof e.payload.kind === "string" && e.kind === "request" && <span>{String(e.payload.action)} · {String(e.payload.kind)}</span>}
              {approval.map((a, i) => <span key={i}>{a.approvalId ? `approval #${String(a.approvalId)}` : ""} {a.status ? String(a.status) : "held"}</span>)}
            </div>
            {typeof e.payload.text === "string" && e.payload.text && <pre className="mt-1 whitespace-pre-wrap font-mono text-xs">{revealInvisible(e.payload.text)}</pre>}
            {e.kind === "revoked" ? (
              <p className="mt-1 text-xs text-red-700">
                {e.payload.action === "connect" ? "the session" : String(e.payload.action)} is no longer allowed: {revealInvisible(`${String(e.payload.reason)} (${String(e.payload.cause)})`)}
              </p>
            ) : (
              e.kind !== "request" && e.kind !== "connect" && <pre className="mt-1 whitespace-pre-wrap font-mono text-[11px] text-slate-600">{revealInvisible(JSON.stringify(e.payload))}</pre>
            )}
            {verdict?.reason ? <p className="mt-1 text-xs text-red-700">{revealInvisible(String(verdict.reason))}</p> : null}
            {result && <ResultSummary r={result} />}
          </li>
        );
      })}
    </ol>
  );
}

function ResultSummary({ r }: { r: Record<string, unknown> }) {
  const sample = r.sample as { columns?: string[]; rows?: (string | null)[][] } | undefined;
  const summary = resultSummary(r);
  return (
    <div className="mt-1 text-xs text-slate-600">
      <span className={summary.problem ? "text-red-700" : undefined} data-testid="result-summary">{revealInvisible(summary.text)}</span>
      {sample?.columns && (
        <table className="mt-1 border border-slate-200 font-mono text-[11px]">
          <thead><tr>{sample.columns.map((c, i) => <th key={i} className="border border-slate-200 px-1 text-left">{revealInvisible(String(c))}</th>)}</tr></thead>
          <tbody>{(sample.rows ?? []).slice(0, 20).map((row, i) => <tr key={i}>{row.map((v, j) => <td key={j} className="border border-slate-200 px-1">{v === null ? "NULL" : revealInvisible(String(v))}</td>)}</tr>)}</tbody>
        </table>
      )}
    </div>
  );
}
