"use client";
import { Badge } from "@/components/ui";
import { requestVerdict } from "@/lib/gateway/recorder/request-verdict";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export interface TimelineEvent {
  seq: number;
  tMs: number;
  /** for a command: when its line was on screen (its echo), which may be after `tMs` (the Enter) */
  seekMs?: number;
  kind: string;
  payload: Record<string, unknown>;
}

export interface TerminalChannelSummary {
  ch: number;
  mode: string;
  cols: number;
  rows: number;
  term: string;
  command: string | null;
  startMs: number;
  endMs: number | null;
  exit: { code?: number; signal?: string } | null;
}

interface Entry {
  seq: number;
  tMs: number;
  seekMs: number;
  ch: number | null;
  kind: string;
  label: string;
  detail?: string;
  tone?: "green" | "red" | "amber" | "blue" | "slate";
  status?: string;
}

const VERDICT_TONE: Record<string, Entry["tone"]> = { allow: "green", deny: "red", hold: "amber", mask: "blue" };
const str = (v: unknown) => (typeof v === "string" ? v : v === undefined || v === null ? "" : String(v));

/** Session events → what a person scans for: commands, requests with their verdicts and holds, file operations, forwards. */
export function timelineEntries(events: TimelineEvent[]): Entry[] {
  const byRequest = new Map<number, TimelineEvent[]>();
  for (const e of events) {
    const ref = e.payload.requestSeq;
    if (typeof ref === "number") byRequest.set(ref, [...(byRequest.get(ref) ?? []), e]);
  }
  const out: Entry[] = [];
  for (const e of events) {
    const p = e.payload;
    const ch = typeof p.ch === "number" ? p.ch : null;
    const base = { seq: e.seq, tMs: e.tMs, seekMs: e.seekMs ?? e.tMs, ch, kind: e.kind };
    switch (e.kind) {
      case "term.cmd":
        out.push({ ...base, label: str(p.text), detail: p.reconstructed ? "reconstructed from input" : undefined });
        break;
      case "request": {
        const related = byRequest.get(e.seq) ?? [];
        const verdict = requestVerdict(e, related);
        const approval = [...related].reverse().find((r) => r.kind === "approval")?.payload;
        const held = related.some((r) => r.kind === "held");
        out.push({
          ...base,
          label: `${str(p.action)}${p.text ? `: ${str(p.text)}` : ""}`,
          detail: verdict?.reason ? str(verdict.reason) : undefined,
          tone: VERDICT_TONE[str(verdict?.verdict)] ?? "slate",
          status: approval ? `${str(verdict?.verdict)} → ${str(approval.status)}` : held ? "held" : str(verdict?.verdict) || undefined,
        });
        break;
      }
      case "sftp":
        out.push({ ...base, label: `${str(p.op)} ${str(p.path)}${p.path2 ? ` → ${str(p.path2)}` : ""}`, detail: [p.bytes !== undefined ? `${str(p.bytes)} bytes` : "", str(p.status)].filter(Boolean).join(" · ") || undefined });
        break;
      case "forward":
        out.push({ ...base, label: `${str(p.type)} forward${p.target ? ` to ${str(p.target)}` : ""}`, detail: str(p.reason) || undefined, tone: p.allowed ? "green" : "red", status: p.allowed ? "allowed" : "refused" });
        break;
      case "term.start":
        out.push({ ...base, label: `channel ${str(p.ch)}: ${str(p.mode)}${p.command ? ` ${str(p.command)}` : ""} (${str(p.cols)}×${str(p.rows)})` });
        break;
      case "term.exit":
        out.push({ ...base, label: `channel ${str(p.ch)} exited${p.code !== undefined ? ` with ${str(p.code)}` : ""}${p.signal ? ` (${str(p.signal)})` : ""}` });
        break;
      case "revoked":
        out.push({ ...base, label: `${str(p.action) === "connect" ? "session" : `${str(p.action)}${p.text ? `: ${str(p.text)}` : ""}`} no longer allowed`, detail: `${str(p.reason)} (${str(p.cause)})`, tone: "red", status: "revoked" });
        break;
      case "principal":
        out.push({ ...base, label: `role or groups changed: ${str(p.role)}${Array.isArray(p.groups) && p.groups.length ? ` · ${p.groups.map(str).join(", ")}` : ""}` });
        break;
      case "terminated":
      case "end":
        out.push({ ...base, label: `${e.kind}${p.reason ? `: ${str(p.reason)}` : p.status ? `: ${str(p.status)}` : ""}` });
        break;
      default:
        // verdict/held/approval/result travel with their request; connect is the session itself.
        break;
    }
  }
  return out;
}

function clock(ms: number) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const mm = String(Math.floor((s % 3600) / 60)).padStart(2, "0");
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * The command/event list beside the player. Times are relative to the selected channel; a click
 * seeks the player there (when there is one). Everything recorded is shown as React text, never
 * as HTML.
 */
export function TerminalTimeline({ events, channel, currentMs, onSeek, truncated }: { events: TimelineEvent[]; channel: TerminalChannelSummary; currentMs: number | null; onSeek: ((recordingMs: number) => void) | null; truncated: boolean }) {
  const entries = timelineEntries(events);
  let current = -1;
  if (currentMs !== null) entries.forEach((e, i) => e.tMs - channel.startMs <= currentMs && (current = i));
  return (
    <div className="flex max-h-[70vh] flex-col">
      <ol className="space-y-1 overflow-y-auto pr-1 text-sm" data-testid="terminal-timeline">
        {entries.length === 0 && <li className="text-slate-500">Nothing recorded besides terminal I/O.</li>}
        {entries.map((e, i) => {
          const rel = e.tMs - channel.startMs;
          const other = e.ch !== null && e.ch !== channel.ch;
          const body = (
            <>
              <span className="flex items-center gap-2 text-xs text-slate-500">
                <span className="font-mono">{rel < 0 ? "before" : clock(rel)}</span>
                <Badge tone={e.tone}>{e.kind}</Badge>
                {e.status && <Badge tone={e.tone}>{e.status}</Badge>}
                {other && <span>ch {e.ch}</span>}
              </span>
              <span className={e.kind === "term.cmd" || e.kind === "request" ? "block break-all font-mono text-xs" : "block text-xs"}>{revealInvisible(e.label)}</span>
              {e.detail && <span className="block text-xs text-slate-500">{revealInvisible(e.detail)}</span>}
            </>
          );
          return (
            <li key={e.seq} data-testid={`timeline-entry-${e.seq}`} data-kind={e.kind} aria-current={i === current ? "true" : undefined} className={`rounded border ${i === current ? "border-brand bg-sky-50" : "border-slate-100"} ${other ? "opacity-60" : ""}`}>
              {onSeek ? (
                <button type="button" className="w-full p-1.5 text-left hover:bg-slate-50" title="Jump the replay here" onClick={() => onSeek(Math.max(0, e.seekMs - channel.startMs))}>
                  {body}
                </button>
              ) : (
                <div className="p-1.5">{body}</div>
              )}
            </li>
          );
        })}
      </ol>
      {truncated && <p className="mt-2 text-xs text-slate-500">Only the first 5,000 events are listed; the JSONL export has all of them.</p>}
    </div>
  );
}
