import { getDb } from "@/db/client";
import { getApproval, listGrants } from "@/db/queries/approvals";
import { getSession } from "@/db/queries/sessions";
import { agentScopeOf, managedBranchOf } from "@/lib/auth/agent-branch";
import { can, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { getBus, Topics } from "@/lib/events/bus";
import { seesSession } from "@/lib/http/session-access";
import { grantLineage } from "@/lib/identity/grant-lineage";
import { canSeeApproval, seesAllApprovals } from "@/lib/services/approvals/visibility";
import { registerWsRoute } from "./router";

/**
 * /ws/events: live console updates (approval queues, session lists) without reload. Each topic
 * is forwarded only to callers allowed to read it; payloads are ids and small summaries, and
 * the page refetches through the authorized REST routes.
 */
const TOPIC_PERMISSION: Record<string, Permission> = {
  [Topics.connectionChanged]: "connections:read",
  [Topics.policyChanged]: "policies:read",
  [Topics.maskingChanged]: "masking:read",
};
/**
 * Session topics go to whoever may read that session: its owner (an agent or a narrowed token: when
 * the session is its branch's, which takes a look at the session's chain), or a reader of all sessions.
 */
const SESSION_TOPICS = new Set<string>([Topics.sessionStarted, Topics.sessionEnded]);
/**
 * Approval topics go to whoever may see that request, as the REST list decides (canSeeApproval):
 * deciders and auditors see the queue, everyone else only what they (an agent: its branch) asked.
 * Every member learning of every request, and its id, told them who is asking for what, when.
 */
const APPROVAL_TOPICS = new Set<string>([Topics.approvalCreated, Topics.approvalDecided]);

async function mayReceive(caller: Caller, topic: string, data: unknown): Promise<boolean> {
  const payload = (data ?? {}) as { id?: unknown; userId?: unknown };
  const ownerId = typeof payload.userId === "string" ? payload.userId : "";
  if (SESSION_TOPICS.has(topic)) {
    if (!can(caller, "sessions:read-own", { ownerId })) return false;
    if (managedBranchOf(caller) === null) return true;
    const s = typeof payload.id === "string" && UUID.test(payload.id) ? await getSession(await getDb(), payload.id) : null;
    return !!s && seesSession(caller, s);
  }
  if (APPROVAL_TOPICS.has(topic)) {
    if (!can(caller, "approvals:read")) return false;
    if (seesAllApprovals(caller)) return true;
    const row = typeof payload.id === "number" && Number.isSafeInteger(payload.id) ? await getApproval(await getDb(), payload.id) : null;
    return !!row && canSeeApproval(caller, row);
  }
  // Whoever sees everyone's grants, or the grant's owner (an agent: a grant it may list).
  if (topic === Topics.grantRevoked) {
    if (!can(caller, "approvals:read")) return false;
    if (seesAllApprovals(caller)) return true;
    if (ownerId !== caller.userId) return false;
    const agent = agentScopeOf(caller);
    if (agent === null) return true;
    if (typeof payload.id !== "string" || !UUID.test(payload.id) || !caller.principal) return false;
    return (await listGrants(await getDb(), { id: payload.id, userId: caller.userId, agent: { tokenId: agent, lineage: grantLineage(caller.principal) } })).length > 0;
  }
  const need = TOPIC_PERMISSION[topic];
  return !!need && can(caller, need);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

registerWsRoute({
  pattern: /^\/ws\/events$/,
  permission: "connections:read",
  onConnection(ws, caller) {
    // Checks may read the database; chaining them keeps each caller's events in publish order.
    let queue = Promise.resolve();
    const off = getBus().subscribe("*", (data, msg) => {
      queue = queue
        .then(async () => {
          if (!(await mayReceive(caller, msg.topic, data))) return;
          if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ topic: msg.topic, data }));
        })
        .catch((err: Error) => console.warn(`[ws/events] ${msg.topic} not forwarded: ${err.message}`));
    });
    const ping = setInterval(() => ws.ping(), 25_000);
    ws.on("close", () => {
      off();
      clearInterval(ping);
    });
  },
});
