"use client";
import { useEffect, useState } from "react";
import { api } from "@/components/api";
import { loadStored, SeqFollower } from "@/components/terminal/seq-follower";
import type { SessionEvent } from "./event-timeline";

const PAGE = 2000;

/**
 * Every event of a session, in seq order and each once: stored ones loaded page by page, live ones
 * from /ws/sessions/:id (opened first, so nothing published while loading is lost; reopened after
 * a network loss). Holes — a payload too large for the live socket, an event another process
 * recorded before it knew of this viewer ({kind: "watching"}) — are filled from the stored events.
 */
export function useSessionEvents(id: string): SessionEvent[] {
  const [events, setEvents] = useState<SessionEvent[]>([]);
  useEffect(() => {
    let stopped = false;
    const applied: SessionEvent[] = [];
    let render: number | null = null;
    const follower = new SeqFollower((e) => {
      applied.push(e);
      render ??= requestAnimationFrame(() => {
        render = null;
        setEvents(applied.slice());
      });
    });
    const page = (after: number) => api<{ events: SessionEvent[] }>(`/sessions/${id}/events?after=${after}&limit=${PAGE}`).then((r) => r.events);

    let loading = false;
    let again = false;
    /** Loads stored events after the last applied one until none are missing (or a hole stays). */
    const load = async () => {
      if (loading) return void (again = true);
      loading = true;
      try {
        do {
          again = false;
          await loadStored(follower, page, { pageSize: PAGE, stopped: () => stopped });
        } while (again && !stopped);
      } catch {
        if (!stopped) setTimeout(() => void load(), 1_000);
      } finally {
        loading = false;
      }
    };

    let ws: WebSocket | null = null;
    const connect = () => {
      const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/sessions/${id}`);
      ws = socket;
      socket.onmessage = (m) => {
        let e: SessionEvent | { kind: string; seq?: undefined };
        try {
          e = JSON.parse(String(m.data));
        } catch {
          return;
        }
        if (e.kind === "watching" || e.kind === "session-ended") void load();
        else if (typeof e.seq === "number") {
          follower.live(e as SessionEvent);
          if (follower.missingAfter !== null) void load();
        }
      };
      // After a network loss: reconnect, and load what was published meanwhile.
      socket.onclose = () => {
        if (stopped || ws !== socket) return;
        setTimeout(() => {
          if (stopped) return;
          connect();
          void load();
        }, 1_000);
      };
    };
    connect();
    follower.start(0);
    void load();
    return () => {
      stopped = true;
      ws?.close();
      if (render !== null) cancelAnimationFrame(render);
    };
  }, [id]);
  return events;
}
