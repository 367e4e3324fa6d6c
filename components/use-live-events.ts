"use client";
import { useEffect, useRef } from "react";

/**
 * Subscribes to /ws/events (server-filtered by the caller's permissions) and calls `onEvent`
 * for matching topics, and with topic "connected" on every (re)connect, reconnecting with backoff. Pages use it to refetch through the REST API,
 * so lists update without reload while all data still goes through authorized routes.
 */
export function useLiveEvents(topics: string[], onEvent: (topic: string, data: unknown) => void) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  const key = topics.join(",");
  useEffect(() => {
    let ws: WebSocket | null = null;
    let stopped = false;
    let delay = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const wanted = new Set(key.split(","));
    const connect = () => {
      ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/events`);
      ws.onopen = () => {
        delay = 500;
        // Anything published between the page's first fetch and this subscription (or while
        // disconnected) was missed: tell the page to refetch.
        handler.current("connected", null);
      };
      ws.onmessage = (m) => {
        try {
          const { topic, data } = JSON.parse(String(m.data));
          if (wanted.has(topic)) handler.current(topic, data);
        } catch {
          /* ignore malformed frames */
        }
      };
      ws.onclose = () => {
        if (stopped) return;
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 10_000);
      };
    };
    connect();
    return () => {
      stopped = true;
      clearTimeout(timer);
      ws?.close();
    };
  }, [key]);
}
