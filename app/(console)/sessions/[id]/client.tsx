"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { api } from "@/components/api";
import { EventTimeline } from "@/components/sessions/event-timeline";
import { RecordingSeal } from "@/components/sessions/recording-seal";
import { useSessionEvents } from "@/components/sessions/use-session-events";
import { LiveTerminal } from "@/components/terminal/live-terminal";
import { Badge, Button, Card, ErrorText, PageHeader, Select } from "@/components/ui";
import { useLiveEvents } from "@/components/use-live-events";
import type { SessionJson } from "@/lib/api-types/session";
import { duration } from "../client";
import { ReplayPlayer, type ReplayControl } from "./replay-player";
import { TerminalTimeline, type TerminalChannelSummary, type TimelineEvent } from "./terminal-timeline";
import { revealInvisible } from "@/lib/util/reveal-invisible";

/** Query sessions have no terminal; everything else may (SSH shells and execs, kubectl exec). */
const QUERY_PROTOCOLS = new Set(["postgres", "mysql"]);
const link = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm";

interface TerminalTimelineData {
  channels: TerminalChannelSummary[];
  events: TimelineEvent[];
  truncated: boolean;
}

/** A session: its facts, then its terminal (live or replayed, with a timeline) or its query events. */
export function SessionDetailClient({ id, canKill }: { id: string; canKill: boolean }) {
  const qc = useQueryClient();
  const session = useQuery({ queryKey: ["session", id], queryFn: () => api<{ session: SessionJson }>(`/sessions/${id}`).then((r) => r.session), refetchInterval: 10_000 });
  // The end of the session is pushed (to whoever may see it): the live view turns into the replay
  // at once; the poll above stays as the fallback while the socket reconnects.
  useLiveEvents(["session.ended"], (topic, data) => {
    if (topic === "connected" || (data as { id?: string } | null)?.id === id) void qc.invalidateQueries({ queryKey: ["session", id] });
  });
  const s = session.data;
  const maybeTerminal = !!s && !QUERY_PROTOCOLS.has(s.protocol);
  const terminal = useQuery({
    queryKey: ["session-terminal", id],
    enabled: maybeTerminal,
    queryFn: () => api<TerminalTimelineData>(`/sessions/${id}/replay/timeline`),
    refetchInterval: s?.status === "live" ? 5_000 : false,
  });
  // The timeline stops polling when the session ends; fetch it once more so it has the last commands.
  const wasLive = useRef(false);
  useEffect(() => {
    if (s?.status === "live") wasLive.current = true;
    else if (s && wasLive.current) {
      wasLive.current = false;
      void qc.invalidateQueries({ queryKey: ["session-terminal", id] });
    }
  }, [s, qc, id]);
  const channels = terminal.data?.channels ?? [];
  const [ch, setCh] = useState<number | null>(null);
  const channel = channels.find((c) => c.ch === ch) ?? channels[0];
  const kill = useMutation({ mutationFn: () => api(`/sessions/${id}/kill`, { method: "POST", body: {} }) });
  // A terminal session whose timeline failed shows the error, not a full event download.
  const decided = !!s && (!maybeTerminal || (terminal.isFetched && !terminal.error));
  return (
    <div className="space-y-5">
      <PageHeader
        title={s ? revealInvisible(`${s.connectionName} · ${s.protocol}`) : "Session"}
        description={s ? revealInvisible(`${s.chain.map((a) => a.name).join(" → ")} from ${s.clientAddress}`) : undefined}
        actions={
          <>
            {channel && (
              <a className={link} href={`/api/v1/sessions/${id}/export?format=asciicast&ch=${channel.ch}`} download>
                Download .cast
              </a>
            )}
            <a className={link} href={`/api/v1/sessions/${id}/export?format=jsonl`}>Download JSONL</a>
            {canKill && s?.status === "live" && <Button variant="danger" onClick={() => confirm("End this session now?") && kill.mutate()}>End session</Button>}
          </>
        }
      />
      <ErrorText error={session.error ?? kill.error ?? terminal.error} />
      {s && (
        <div className="flex gap-3 text-sm">
          <Badge tone={s.status === "live" ? "green" : "slate"}>{s.status}</Badge>
          <span>started {new Date(s.startedAt).toLocaleString()}</span>
          <span>duration {duration(s)}</span>
          {s.endReason && <span className="text-slate-600">({revealInvisible(s.endReason)})</span>}
          <RecordingSeal id={id} live={s.status === "live"} />
        </div>
      )}
      {decided && channel && terminal.data ? (
        <TerminalView id={id} live={s!.status === "live"} channels={channels} channel={channel} onChannel={setCh} data={terminal.data} />
      ) : decided ? (
        <QueryEvents id={id} />
      ) : null}
    </div>
  );
}

const SPEEDS = [0.5, 1, 2, 4, 8];
const IDLE_LIMITS = [null, 0.5, 1, 2, 5];

function TerminalView({ id, live, channels, channel, onChannel, data }: { id: string; live: boolean; channels: TerminalChannelSummary[]; channel: TerminalChannelSummary; onChannel: (ch: number) => void; data: TerminalTimelineData }) {
  const [speed, setSpeed] = useState(1);
  const [idle, setIdle] = useState<number | null>(null);
  const [control, setControl] = useState<ReplayControl | null>(null);
  const [currentMs, setCurrentMs] = useState<number | null>(null);
  const onTime = useCallback((ms: number) => setCurrentMs(ms), []);
  const seek = useCallback((ms: number) => {
    if (!control) return;
    void control.seekToRecordingMs(ms);
    setCurrentMs(ms);
  }, [control]);
  return (
    <div className="grid gap-4 lg:grid-cols-[minmax(0,1fr)_22rem]">
      <Card
        title={live ? "Live terminal" : "Replay"}
        actions={
          <div className="flex items-center gap-2 text-xs">
            {channels.length > 1 && (
              <Select aria-label="Channel" value={channel.ch} onChange={(e) => onChannel(Number(e.target.value))}>
                {channels.map((c) => (
                  <option key={c.ch} value={c.ch}>
                    ch {c.ch}: {c.mode}
                    {c.command ? ` ${c.command}` : ""}
                  </option>
                ))}
              </Select>
            )}
            {!live && (
              <>
                <Select aria-label="Speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value))}>
                  {SPEEDS.map((v) => <option key={v} value={v}>{v}×</option>)}
                </Select>
                <Select aria-label="Idle time limit" value={idle ?? "off"} onChange={(e) => setIdle(e.target.value === "off" ? null : Number(e.target.value))}>
                  {IDLE_LIMITS.map((v) => <option key={v ?? "off"} value={v ?? "off"}>{v === null ? "pauses: real time" : `pauses ≤ ${v}s`}</option>)}
                </Select>
              </>
            )}
          </div>
        }
      >
        {live ? <LiveTerminal sessionId={id} ch={channel.ch} /> : <ReplayPlayer key={channel.ch} sessionId={id} ch={channel.ch} speed={speed} idleSeconds={idle} onControl={setControl} onTime={onTime} />}
      </Card>
      <Card title="Timeline">
        <TerminalTimeline events={data.events} channel={channel} currentMs={live ? null : currentMs} onSeek={live || !control ? null : seek} truncated={data.truncated} />
      </Card>
    </div>
  );
}

/** Query sessions (and terminal-less ones): every event, loaded page by page, then followed live. */
function QueryEvents({ id }: { id: string }) {
  const events = useSessionEvents(id);
  return (
    <Card title={`Events (${events.length})`}>
      <EventTimeline events={events} />
    </Card>
  );
}
