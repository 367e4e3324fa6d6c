import { desc, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { gatewayNodes } from "@/db/schema";

export interface GatewayNodeRow {
  nodeId: string;
  startedAt: Date;
  lastSeen: Date;
  /** seconds since its last heartbeat, by the database's clock */
  silentSeconds: number;
  liveSessions: number;
}

/**
 * The Gatehouse processes on this database (lib/services/sessions/node-liveness.ts), newest
 * first, with how long each has been silent and how many live sessions it serves.
 */
export async function gatewayNodesWithLoad(db: Db): Promise<GatewayNodeRow[]> {
  const rows = await db
    .select({
      nodeId: gatewayNodes.nodeId,
      startedAt: gatewayNodes.startedAt,
      lastSeen: gatewayNodes.lastSeen,
      silent: sql<number>`extract(epoch from now() - ${gatewayNodes.lastSeen})::float8`,
      // spelled out: drizzle writes a column of the outer table unqualified, which inside the
      // subquery would mean the sessions' own node_id
      live: sql<number>`(select count(*) from sessions s where s.node_id = gateway_nodes.node_id and s.status = 'live')::int`,
    })
    .from(gatewayNodes)
    .orderBy(desc(gatewayNodes.startedAt))
    .limit(200);
  return rows.map((r) => ({ nodeId: r.nodeId, startedAt: r.startedAt, lastSeen: r.lastSeen, silentSeconds: Math.max(0, Math.round(Number(r.silent))), liveSessions: Number(r.live) }));
}
