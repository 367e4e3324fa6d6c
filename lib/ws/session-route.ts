import { getDb } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { seesSession } from "@/lib/http/session-access";
import { getBus, Topics } from "@/lib/events/bus";
import { auditRecordingRead } from "@/lib/services/sessions/audit-read";
import { loggable } from "@/lib/util/loggable";
import { registerWsRoute } from "./router";

/** How long a recorded event may take to reach the database (event-writer FLUSH_MS, with room). */
const STORED_WITHIN_MS = 300;

/**
 * /ws/sessions/:id — follow one session live. Object check before the upgrade: only the
 * session's own user or someone who may read all sessions. The client first loads past events
 * over REST, then applies live ones with a higher seq, filling holes from REST.
 *
 * A session recorded by another process reaches this one only once it knows of the watch
 * (bus.watch): events recorded before that were only stored. So once the watch is known there and
 * those are stored, the socket says `{kind: "watching"}` and the client loads what it lacks.
 */
registerWsRoute({
  pattern: /^\/ws\/sessions\/([0-9a-f-]{36})$/i,
  permission: "sessions:read-own",
  async authorizeObject(caller, match) {
    const s = await getSession(await getDb(), match[1]);
    return !!s && seesSession(caller, s);
  },
  onConnection(ws, caller, match) {
    const id = match[1];
    // Watching a session is reading its recording: audited once per socket, and nothing is sent
    // before the row is written. A view that cannot be audited is closed, not served.
    let held: string[] | null = [];
    const send = (msg: string) => {
      if (held) held.push(msg);
      else if (ws.readyState === ws.OPEN) ws.send(msg);
    };
    void getDb()
      .then(async (db) => {
        const s = await getSession(db, id);
        if (!s) throw new Error("the session is gone");
        await auditRecordingRead(db, caller, s, "session.watch", { via: caller.via === "session" ? "console" : "api", live: s.status === "live" });
        const queued = held ?? [];
        held = null;
        for (const msg of queued) send(msg);
      })
      .catch((err) => {
        console.error("[ws] could not audit a session view:", loggable(err));
        ws.close(1011, "could not record this view in the audit log");
      });
    const bus = getBus();
    const off = bus.subscribe<{ sessionId: string; event: unknown }>(Topics.sessionEvent, (data) => {
      if (data.sessionId === id) send(JSON.stringify(data.event));
    });
    const offEnd = bus.subscribe<{ id: string; status: string }>(Topics.sessionEnded, (data) => {
      if (data.id === id) send(JSON.stringify({ kind: "session-ended", status: data.status }));
    });
    const watch = bus.watch(Topics.sessionEvent, id);
    let synced: NodeJS.Timeout | null = null;
    void watch.ready.then((bridged) => {
      if (!bridged) return; // one process: every event published here was delivered here
      synced = setTimeout(() => send(JSON.stringify({ kind: "watching" })), STORED_WITHIN_MS);
    });
    ws.on("close", () => {
      off();
      offEnd();
      watch.stop();
      if (synced) clearTimeout(synced);
    });
  },
});
