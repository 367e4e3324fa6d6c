import { getDb } from "@/db/client";
import { gatewayNodesWithLoad } from "@/db/queries/nodes";
import { route } from "@/lib/http/route";
import { NODE_GONE_AFTER_MS, nodeIsGone } from "@/lib/services/sessions/node-liveness";

/**
 * The Gatehouse processes sharing this PostgreSQL, with their last heartbeat and live sessions
 * (`gone`: silent long enough that the others ended its sessions). Empty on the embedded database,
 * which has one process.
 */
export const GET = route("sessions:read-all", async () => {
  const nodes = await gatewayNodesWithLoad(await getDb());
  return { goneAfterSeconds: Math.ceil(NODE_GONE_AFTER_MS / 1000), nodes: nodes.map((n) => ({ ...n, gone: nodeIsGone(n) })) };
});
