import { getDb } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { can } from "@/lib/auth/authorize";
import { getBus, Topics } from "@/lib/events/bus";
import { registerWsRoute } from "./router";

/**
 * /ws/sessions/:id — follow one session live. Object check before the upgrade: only the
 * session's own user or someone who may read all sessions. The client first loads past events
 * over REST, then applies live ones with a higher seq (so joining mid-session loses nothing).
 */
registerWsRoute({
  pattern: /^\/ws\/sessions\/([0-9a-f-]{36})$/i,
  permission: "sessions:read-own",
  async authorizeObject(caller, match) {
    const s = await getSession(await getDb(), match[1]);
    return !!s && can(caller, "sessions:read-own", { ownerId: s.userId });
  },
  onConnection(ws, _caller, match) {
    const id = match[1];
    const off = getBus().subscribe<{ sessionId: string; event: unknown }>(Topics.sessionEvent, (data) => {
      if (data.sessionId === id && ws.readyState === ws.OPEN) ws.send(JSON.stringify(data.event));
    });
    const offEnd = getBus().subscribe<{ id: string; status: string }>(Topics.sessionEnded, (data) => {
      if (data.id === id && ws.readyState === ws.OPEN) ws.send(JSON.stringify({ kind: "session-ended", status: data.status }));
    });
    ws.on("close", () => {
      off();
      offEnd();
    });
  },
});
