import { can, type Permission } from "@/lib/auth/authorize";
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
  [Topics.sessionStarted]: "sessions:read-all",
  [Topics.sessionEnded]: "sessions:read-all",
  [Topics.connectionChanged]: "connections:read",
  [Topics.policyChanged]: "policies:read",
  [Topics.maskingChanged]: "masking:read",
};

registerWsRoute({
  pattern: /^\/ws\/events$/,
  permission: "connections:read",
  onConnection(ws, caller) {
    const off = getBus().subscribe("*", (data, msg) => {
      const need = TOPIC_PERMISSION[msg.topic];
      if (!need || !can(caller, need)) return;
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ topic: msg.topic, data }));
    });
    const ping = setInterval(() => ws.ping(), 25_000);
    ws.on("close", () => {
      off();
      clearInterval(ping);
    });
  },
});
