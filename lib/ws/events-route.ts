import { can, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { getBus, Topics } from "@/lib/events/bus";
import { registerWsRoute } from "./router";

/**
 * /ws/events: live console updates (approval queues, session lists) without reload. Each topic
 * is forwarded only to callers allowed to read it; payloads are ids and small summaries, and
 * the page refetches through the authorized REST routes.
 */
const TOPIC_PERMISSION: Record<string, Permission> = {
  [Topics.approvalCreated]: "approvals:read",
  [Topics.approvalDecided]: "approvals:read",
  [Topics.grantRevoked]: "approvals:read",
  [Topics.connectionChanged]: "connections:read",
  [Topics.policyChanged]: "policies:read",
  [Topics.maskingChanged]: "masking:read",
};
/** Session topics go to whoever may read that session: its owner, or a reader of all sessions. */
const SESSION_TOPICS = new Set<string>([Topics.sessionStarted, Topics.sessionEnded]);

function mayReceive(caller: Caller, topic: string, data: unknown): boolean {
  if (SESSION_TOPICS.has(topic)) {
    const ownerId = (data as { userId?: unknown } | null)?.userId;
    return can(caller, "sessions:read-own", { ownerId: typeof ownerId === "string" ? ownerId : "" });
  }
  const need = TOPIC_PERMISSION[topic];
  return !!need && can(caller, need);
}

registerWsRoute({
  pattern: /^\/ws\/events$/,
  permission: "connections:read",
  onConnection(ws, caller) {
    const off = getBus().subscribe("*", (data, msg) => {
      if (!mayReceive(caller, msg.topic, data)) return;
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ topic: msg.topic, data }));
    });
    const ping = setInterval(() => ws.ping(), 25_000);
    ws.on("close", () => {
      off();
      clearInterval(ping);
    });
  },
});
