"use client";
import { useEffect, useRef, useState } from "react";
import type { ConsoleMessage, WireMessage } from "@/lib/sql-console/console";
import { finalCloseReason } from "@/components/terminal/close-codes";

/**
 * The SQL console's WebSocket (/ws/sql/:connection, lib/ws/sql-route.ts). After a network loss it
 * reconnects with the resume token and the number of the last message it has, for as long as
 * the server keeps the connection (GRACE_MS, 60 s): the transaction, and a statement still
 * running or held, carry on, and the messages missed meanwhile arrive then.
 */
export type Phase =
  | { phase: "connecting" }
  | { phase: "ready"; sessionId: string | null }
  | { phase: "reconnecting"; deadline: number }
  | { phase: "closed"; reason: string };

const GRACE_MS = 60_000;

export function useSqlSocket(connection: string, generation: number, onMessage: (msg: ConsoleMessage) => void) {
  const [phase, setPhase] = useState<Phase>({ phase: "connecting" });
  const socket = useRef<WebSocket | null>(null);
  const handler = useRef(onMessage);
  handler.current = onMessage;

  useEffect(() => {
    let resumeToken: string | null = null;
    let lastSeq = 0;
    let lostAt: number | null = null;
    let attempt = 0;
    let timer: ReturnType<typeof setTimeout> | null = null;
    let done = false;
    let sessionId: string | null = null;
    const finish = (reason: string) => {
      done = true;
      setPhase({ phase: "closed", reason });
    };

    const connect = () => {
      const q = resumeToken ? `?${new URLSearchParams({ resume: resumeToken, after: String(lastSeq) })}` : "";
      const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/sql/${encodeURIComponent(connection)}${q}`);
      socket.current = ws;
      ws.onmessage = (ev) => {
        const msg = JSON.parse(String(ev.data)) as WireMessage;
        if (msg.seq > 0) {
          if (msg.seq <= lastSeq) return; // already had it
          lastSeq = msg.seq;
          ws.send(JSON.stringify({ type: "ack", seq: msg.seq })); // the server need not keep it for a resume
        }
        lostAt = null;
        attempt = 0;
        if (msg.type === "ready") resumeToken = msg.resumeToken;
        if (msg.type === "session") sessionId = msg.sessionId;
        if (msg.type === "closed") finish(msg.reason);
        else if (msg.type === "ready" || msg.type === "session" || msg.type === "resumed") setPhase({ phase: "ready", sessionId });
        handler.current(msg);
      };
      ws.onclose = (ev) => lost(ws, ev.code);
    };
    const lost = (ws: WebSocket, code: number) => {
      if (done || socket.current !== ws) return;
      socket.current = null; // its close event, if it still comes, is not a second loss
      const final = finalCloseReason(code, "console");
      if (final || !resumeToken) return finish(final ?? "the connection to Gatehouse was lost");
      lostAt ??= Date.now();
      const deadline = lostAt + GRACE_MS;
      if (Date.now() >= deadline) return finish("the connection to Gatehouse was lost for longer than a minute");
      setPhase({ phase: "reconnecting", deadline });
      timer = setTimeout(() => {
        timer = null;
        connect();
      }, Math.min(500 * 2 ** attempt++, 5_000));
    };
    // The browser knows the network is gone before TCP does: stop waiting for it (offline, even the
    // close handshake may take long: reconnecting starts now, what the old socket still delivers is
    // dropped and asked for again by the resume); back, retry at once.
    const offline = () => {
      const ws = socket.current;
      if (done || ws?.readyState !== WebSocket.OPEN) return;
      ws.onmessage = null;
      ws.close(4000, "client offline");
      lost(ws, 4000);
    };
    const online = () => {
      if (done || !timer) return;
      clearTimeout(timer);
      timer = null;
      connect();
    };
    window.addEventListener("offline", offline);
    window.addEventListener("online", online);
    setPhase({ phase: "connecting" });
    connect();
    return () => {
      done = true;
      window.removeEventListener("offline", offline);
      window.removeEventListener("online", online);
      if (timer) clearTimeout(timer);
      const ws = socket.current;
      // Leaving the page closes the console at once; only a network loss is waited for.
      if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "close" }));
      ws?.close(1000);
    };
  }, [connection, generation]);

  const send = (msg: object) => {
    const ws = socket.current;
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(msg));
  };
  return { phase, send };
}
