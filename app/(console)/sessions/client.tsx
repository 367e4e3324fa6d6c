"use client";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState } from "react";
import { api } from "@/components/api";
import { GatewayNodes } from "@/components/sessions/gateway-nodes";
import { Badge, Card, Input, PageHeader, Select, Table } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";
import type { SessionJson } from "@/lib/api-types/session";
import { revealInvisible } from "@/lib/util/reveal-invisible";

export function duration(s: { startedAt: string; endedAt: string | null }, now = Date.now()) {
  const ms = (s.endedAt ? new Date(s.endedAt).getTime() : now) - new Date(s.startedAt).getTime();
  const sec = Math.max(0, Math.round(ms / 1000));
  return sec < 60 ? `${sec}s` : sec < 3600 ? `${Math.floor(sec / 60)}m ${sec % 60}s` : `${Math.floor(sec / 3600)}h ${Math.floor((sec % 3600) / 60)}m`;
}

export interface SessionFilters {
  q: string;
  status: string;
  protocol: string;
  connection: string;
  user: string;
}

const TONE: Record<string, "green" | "slate" | "red" | "amber"> = { live: "green", ended: "slate", killed: "red", failed: "amber" };
const PROTOCOLS = ["postgres", "mysql", "ssh", "kubernetes", "http", "mcp"];

export function SessionsClient({ all, initial }: { all: boolean; initial: SessionFilters }) {
  const qc = useQueryClient();
  const [f, setF] = useState<SessionFilters>(initial);
  // Typing in a search box should not fire a request per keystroke.
  const [typed, setTyped] = useState({ q: initial.q, user: initial.user });
  useEffect(() => {
    const t = setTimeout(() => setF((prev) => ({ ...prev, ...typed })), 250);
    return () => clearTimeout(t);
  }, [typed]);
  const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v)).toString();
  // Filters live in the address, so a filtered view can be bookmarked or sent to a colleague.
  useEffect(() => {
    window.history.replaceState(null, "", qs ? `?${qs}` : location.pathname);
  }, [qs]);
  const list = useQuery({ queryKey: ["sessions", qs], queryFn: () => api<{ sessions: SessionJson[] }>(`/sessions?${qs}`).then((r) => r.sessions), refetchInterval: 15_000 });
  const connections = useQuery({ queryKey: ["connections"], queryFn: () => api<{ connections: { name: string }[] }>("/connections").then((r) => r.connections) });
  useLiveEvents(["session.started", "session.ended"], () => void qc.invalidateQueries({ queryKey: ["sessions"] }));
  const rows = list.data ?? [];
  const now = useNow(rows.some((s) => s.status === "live") ? 1000 : null);
  const set = (k: keyof SessionFilters) => (e: { target: { value: string } }) => setF({ ...f, [k]: e.target.value });

  return (
    <div className="space-y-5">
      <PageHeader title="Sessions" description={all ? "Every session through every gateway, live and past. Live sessions can be watched as they happen." : "Your sessions through the gateways."} />
      <div className="flex flex-wrap gap-2">
        <div className="w-72">
          <Input aria-label="Search" placeholder="Search user, agent, connection, address, application" value={typed.q} onChange={(e) => setTyped({ ...typed, q: e.target.value })} />
        </div>
        {all && (
          <div className="w-52">
            <Input aria-label="User" placeholder="user email" value={typed.user} onChange={(e) => setTyped({ ...typed, user: e.target.value })} />
          </div>
        )}
        <Select aria-label="Status" value={f.status} onChange={set("status")}>
          <option value="">any status</option>
          {Object.keys(TONE).map((s) => <option key={s}>{s}</option>)}
        </Select>
        <Select aria-label="Protocol" value={f.protocol} onChange={set("protocol")}>
          <option value="">any protocol</option>
          {PROTOCOLS.map((p) => <option key={p}>{p}</option>)}
        </Select>
        <Select aria-label="Connection" value={f.connection} onChange={set("connection")}>
          <option value="">any connection</option>
          {f.connection && !connections.data?.some((c) => c.name === f.connection) && <option>{f.connection}</option>}
          {connections.data?.map((c) => <option key={c.name}>{c.name}</option>)}
        </Select>
      </div>
      <Card>
        <Table head={["Started", "User", "Chain", "Connection", "Protocol", "Client", "Duration", "Status", ""]}>
          {lineage(rows).map(({ s, depth }) => (
            <tr key={s.id} data-testid={`session-${s.id}`} data-status={s.status}>
              <td className="px-2 py-2 text-xs whitespace-nowrap"><Link className="text-brand underline" href={`/sessions/${s.id}`}>{new Date(s.startedAt).toLocaleString()}</Link></td>
              <td className="px-2 py-2 text-xs" style={{ paddingLeft: `${0.5 + depth * 1.25}rem` }}>
                {depth > 0 && <span className="text-slate-400">└ </span>}
                {revealInvisible(s.userEmail)}
              </td>
              <td className="px-2 py-2 text-xs text-slate-600">{s.chain.length > 1 ? revealInvisible(s.chain.slice(1).map((a) => a.name).join(" → ")) : <span className="text-slate-400">direct</span>}</td>
              <td className="px-2 py-2">{revealInvisible(s.connectionName)}</td>
              <td className="px-2 py-2 whitespace-nowrap"><Badge tone="blue">{s.protocol}</Badge> <span className="text-xs text-slate-500">{s.origin}</span></td>
              <td className="px-2 py-2 text-xs">{revealInvisible(`${s.clientAddress}${s.applicationName ? ` · ${s.applicationName}` : ""}`)}</td>
              <td className="px-2 py-2 text-xs tabular-nums" data-testid="duration">{duration(s, now)}</td>
              <td className="px-2 py-2" title={s.endReason ? revealInvisible(s.endReason) : undefined}><Badge tone={TONE[s.status] ?? "slate"}>{s.status}</Badge></td>
              <td className="px-2 py-2 text-right text-xs">
                <Link className="text-brand underline" href={`/sessions/${s.id}`}>{s.status === "live" ? "Watch" : "View"}</Link>
              </td>
            </tr>
          ))}
          {list.data?.length === 0 && <tr><td colSpan={9} className="px-2 py-6 text-center text-sm text-slate-500">No sessions match.</td></tr>}
        </Table>
      </Card>
      {all && <GatewayNodes />}
    </div>
  );
}

/** The current time, re-rendering every `intervalMs` (null: not ticking). */
function useNow(intervalMs: number | null) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (intervalMs === null) return;
    const t = setInterval(() => setNow(Date.now()), intervalMs);
    return () => clearInterval(t);
  }, [intervalMs]);
  return intervalMs === null ? Date.now() : now;
}

/**
 * Sessions as a lineage tree: a child agent's session (opened with a token exchanged from a
 * token that had a live session) is listed under its parent's session.
 */
function lineage(rows: SessionJson[]): { s: SessionJson; depth: number }[] {
  const ids = new Set(rows.map((r) => r.id));
  const kids = new Map<string | null, SessionJson[]>();
  for (const r of rows) {
    const p = r.parentSessionId && ids.has(r.parentSessionId) ? r.parentSessionId : null;
    kids.set(p, [...(kids.get(p) ?? []), r]);
  }
  const out: { s: SessionJson; depth: number }[] = [];
  const walk = (p: string | null, depth: number) => {
    for (const s of kids.get(p) ?? []) {
      out.push({ s, depth });
      walk(s.id, depth + 1);
    }
  };
  walk(null, 0);
  return out;
}
