"use client";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { api } from "@/components/api";
import { EventTimeline, type SessionEvent } from "@/components/sessions/event-timeline";
import { Badge, Button, Card, ErrorText, PageHeader } from "@/components/ui";
import { duration, type SessionRow } from "../client";

/** A session: its facts, and its events — loaded, then followed live while it runs. */
export function SessionDetailClient({ id, canKill }: { id: string; canKill: boolean }) {
  const session = useQuery({ queryKey: ["session", id], queryFn: () => api<{ session: SessionRow }>(`/sessions/${id}`).then((r) => r.session), refetchInterval: 10_000 });
  const [events, setEvents] = useState<SessionEvent[]>([]);
  useEffect(() => {
    let ws: WebSocket | null = null;
    let stop = false;
    (async () => {
      let after = 0;
      const all: SessionEvent[] = [];
      for (;;) {
        const page = await api<{ events: SessionEvent[] }>(`/sessions/${id}/events?after=${after}&limit=2000`).then((r) => r.events);
        all.push(...page);
        if (page.length < 2000) break;
        after = page[page.length - 1].seq;
      }
      if (stop) return;
      setEvents(all);
      ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/sessions/${id}`);
      ws.onmessage = (m) => {
        const e = JSON.parse(String(m.data)) as SessionEvent;
        if (typeof e.seq === "number") setEvents((prev) => (prev.length && prev[prev.length - 1].seq >= e.seq ? prev : [...prev, e]));
      };
    })().catch(() => {});
    return () => {
      stop = true;
      ws?.close();
    };
  }, [id]);
  const kill = useMutation({ mutationFn: () => api(`/sessions/${id}/kill`, { method: "POST", body: {} }) });
  const s = session.data;
  return (
    <div className="space-y-5">
      <PageHeader
        title={s ? `${s.connectionName} · ${s.protocol}` : "Session"}
        description={s ? `${s.chain.map((a) => a.name).join(" → ")} from ${s.clientAddress}` : undefined}
        actions={
          <>
            <a className="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm" href={`/api/v1/sessions/${id}/export?format=jsonl`}>Download JSONL</a>
            {canKill && s?.status === "live" && <Button variant="danger" onClick={() => confirm("End this session now?") && kill.mutate()}>End session</Button>}
          </>
        }
      />
      <ErrorText error={session.error ?? kill.error} />
      {s && (
        <div className="flex gap-3 text-sm">
          <Badge tone={s.status === "live" ? "green" : "slate"}>{s.status}</Badge>
          <span>started {new Date(s.startedAt).toLocaleString()}</span>
          <span>duration {duration(s)}</span>
          {s.endReason && <span className="text-slate-600">({s.endReason})</span>}
        </div>
      )}
      <Card title={`Events (${events.length})`}>
        <EventTimeline events={events} />
      </Card>
    </div>
  );
}
