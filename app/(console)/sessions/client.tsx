"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { api } from "@/components/api";
import { Badge, Card, Input, PageHeader, Select, Table } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";

export interface SessionRow {
  id: string;
  parentSessionId: string | null;
  userEmail: string;
  chain: { kind: string; name: string }[];
  connectionName: string;
  protocol: string;
  origin: string;
  clientAddress: string;
  applicationName: string;
  status: string;
  endReason: string | null;
  startedAt: string;
  endedAt: string | null;
}

export function duration(s: { startedAt: string; endedAt: string | null }) {
  const ms = (s.endedAt ? new Date(s.endedAt).getTime() : Date.now()) - new Date(s.startedAt).getTime();
  const sec = Math.round(ms / 1000);
  return sec < 60 ? `${sec}s` : sec < 3600 ? `${Math.floor(sec / 60)}m ${sec % 60}s` : `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
}

const TONE: Record<string, "green" | "slate" | "red" | "amber"> = { live: "green", ended: "slate", killed: "red", failed: "amber" };

export function SessionsClient({ all }: { all: boolean }) {
  const qc = useQueryClient();
  const [f, setF] = useState({ status: "", protocol: "", q: "" });
  const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  const list = useQuery({ queryKey: ["sessions", qs], queryFn: () => api<{ sessions: SessionRow[] }>(`/sessions?${qs}`).then((r) => r.sessions), refetchInterval: 15_000 });
  useLiveEvents(["session.started", "session.ended"], () => void qc.invalidateQueries({ queryKey: ["sessions"] }));
  return (
    <div className="space-y-5">
      <PageHeader title="Sessions" description={all ? "Every session through every gateway, live and past." : "Your sessions through the gateways."} />
      <div className="flex flex-wrap gap-2">
        <div className="w-72"><Input placeholder="Search user, connection, address, application" value={f.q} onChange={(e) => setF({ ...f, q: e.target.value })} /></div>
        <Select aria-label="Status" value={f.status} onChange={(e) => setF({ ...f, status: e.target.value })}>
          <option value="">any status</option><option>live</option><option>ended</option><option>killed</option><option>failed</option>
        </Select>
        <Select aria-label="Protocol" value={f.protocol} onChange={(e) => setF({ ...f, protocol: e.target.value })}>
          <option value="">any protocol</option><option>postgres</option><option>mysql</option><option>ssh</option><option>kubernetes</option><option>http</option><option>mcp</option>
        </Select>
      </div>
      <Card>
        <Table head={["Started", "User / chain", "Connection", "Protocol", "Client", "Duration", "Status"]}>
          {lineage(list.data ?? []).map(({ s, depth }) => (
            <tr key={s.id} data-testid={`session-${s.id}`}>
              <td className="px-2 py-2 text-xs"><Link className="text-brand underline" href={`/sessions/${s.id}`}>{new Date(s.startedAt).toLocaleString()}</Link></td>
              <td className="px-2 py-2 text-xs" style={{ paddingLeft: `${0.5 + depth * 1.25}rem` }}>
                {depth > 0 && <span className="text-slate-400">└ </span>}
                {s.chain.map((a) => a.name).join(" → ")}
              </td>
              <td className="px-2 py-2">{s.connectionName}</td>
              <td className="px-2 py-2"><Badge tone="blue">{s.protocol}</Badge> <span className="text-xs text-slate-500">{s.origin}</span></td>
              <td className="px-2 py-2 text-xs">{s.clientAddress} {s.applicationName && `· ${s.applicationName}`}</td>
              <td className="px-2 py-2 text-xs">{duration(s)}</td>
              <td className="px-2 py-2"><Badge tone={TONE[s.status] ?? "slate"}>{s.status}</Badge></td>
            </tr>
          ))}
          {list.data?.length === 0 && <tr><td colSpan={7} className="px-2 py-6 text-center text-sm text-slate-500">No sessions match.</td></tr>}
        </Table>
      </Card>
    </div>
  );
}

/**
 * Sessions as a lineage tree: a child agent's session (opened with a token exchanged from a
 * token that had a live session) is listed under its parent's session.
 */
function lineage(rows: SessionRow[]): { s: SessionRow; depth: number }[] {
  const ids = new Set(rows.map((r) => r.id));
  const kids = new Map<string | null, SessionRow[]>();
  for (const r of rows) {
    const p = r.parentSessionId && ids.has(r.parentSessionId) ? r.parentSessionId : null;
    kids.set(p, [...(kids.get(p) ?? []), r]);
  }
  const out: { s: SessionRow; depth: number }[] = [];
  const walk = (p: string | null, depth: number) => {
    for (const s of kids.get(p) ?? []) {
      out.push({ s, depth });
      walk(s.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
