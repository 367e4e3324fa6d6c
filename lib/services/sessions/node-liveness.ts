import { and, eq, inArray, lt, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { gatewayNodes, sessions } from "@/db/schema";
import { Topics, type EventBus } from "@/lib/events/bus";
import { liveSessions } from "@/lib/gateway/core/live-sessions";
import { ORPHANED_REASON } from "./end-orphaned";
import { loggable } from "@/lib/util/loggable";

/** How often a process renews its row; it counts as gone after NODE_TTL_BEATS missed renewals. */
const HEARTBEAT_MS = Number(process.env.GATEHOUSE_NODE_HEARTBEAT_MS ?? 10_000);
const NODE_TTL_BEATS = 6;
/** Rows of processes gone this long are deleted (their sessions were ended long before). */
const FORGET_AFTER = "1 day";

/** A process whose heartbeat is this old is gone (its live sessions are ended). */
export const NODE_GONE_AFTER_MS = HEARTBEAT_MS * NODE_TTL_BEATS;

/** Whether a process (a `gateway_nodes` row) is gone: silent for NODE_GONE_AFTER_MS. */
export function nodeIsGone(node: { silentSeconds: number }): boolean {
  return node.silentSeconds * 1000 > NODE_GONE_AFTER_MS;
}

export interface NodeLiveness {
  stop(): Promise<void>;
}

/**
 * Several Gatehouse processes on one PostgreSQL: a process that dies without ending its sessions
 * (killed, crashed, its machine gone) would leave them `live` for ever — in the console, to kill
 * from it, as parents of delegated sessions. So each process renews its row in `gateway_nodes`
 * every HEARTBEAT_MS, and every process ends (status `failed`) the live sessions of any process
 * whose row is older than NODE_TTL_BEATS heartbeats, at start and at every heartbeat. All times
 * are the database's, so the processes' clocks do not matter. Processes that never wrote a row
 * (an older version during an upgrade) are left alone.
 *
 * The other way round, a process that could not renew its row for that long (cut off from the
 * database) may find its sessions ended by others: it then ends them itself, as the console
 * already shows — a session the recording says is over does not go on serving traffic.
 *
 * (The embedded database has one process: endOrphanedSessions covers it at start.)
 */
export async function startNodeLiveness(db: Db, bus: EventBus): Promise<NodeLiveness> {
  if (!Number.isInteger(HEARTBEAT_MS) || HEARTBEAT_MS < 100) throw new Error(`GATEHOUSE_NODE_HEARTBEAT_MS must be a whole number of milliseconds, at least 100, not "${process.env.GATEHOUSE_NODE_HEARTBEAT_MS}"`);
  const nodeId = bus.nodeId;
  const ttl = sql.raw(`interval '${Math.ceil(NODE_GONE_AFTER_MS / 1000)} seconds'`);

  const beat = () =>
    db
      .insert(gatewayNodes)
      .values({ nodeId })
      .onConflictDoUpdate({ target: gatewayNodes.nodeId, set: { lastSeen: sql`now()` } });

  /** Ends the live sessions of processes that stopped renewing their row. */
  const sweep = async () => {
    const gone = db.select({ nodeId: gatewayNodes.nodeId }).from(gatewayNodes).where(lt(gatewayNodes.lastSeen, sql`now() - ${ttl}`));
    const ended = await db
      .update(sessions)
      .set({ status: "failed", endReason: ORPHANED_REASON, endedAt: sql`now()` })
      .where(and(eq(sessions.status, "live"), inArray(sessions.nodeId, gone)))
      .returning({ id: sessions.id, userId: sessions.userId, nodeId: sessions.nodeId });
    for (const s of ended) {
      console.log(`[gatehouse] session ${s.id} of node ${s.nodeId} ended: that process stopped renewing its heartbeat`);
      void bus.publish(Topics.sessionEnded, { id: s.id, userId: s.userId, status: "failed" });
    }
    await db.delete(gatewayNodes).where(lt(gatewayNodes.lastSeen, sql`now() - interval ${sql.raw(`'${FORGET_AFTER}'`)}`));
  };

  /** Ends here the sessions this process still serves that the database says are over. */
  const reconcile = async () => {
    const mine = liveSessions().all();
    if (!mine.length) return;
    const over = await db
      .select({ id: sessions.id, status: sessions.status, endReason: sessions.endReason })
      .from(sessions)
      .where(and(inArray(sessions.id, mine.map((s) => s.id)), sql`${sessions.status} <> 'live'`));
    // An administrator's kill is stored with what to tell the client (its message may never have come).
    for (const row of over) liveSessions().get(row.id)?.terminate(row.status === "killed" && row.endReason ? row.endReason : `the session was ended elsewhere (${row.status}${row.endReason ? `: ${row.endReason}` : ""})`);
  };

  const tick = async () => {
    try {
      await beat();
      await sweep();
      await reconcile();
    } catch (err) {
      console.error(`[gatehouse] node heartbeat failed:`, loggable(err));
    }
  };

  await tick();
  const timer = setInterval(() => void tick(), HEARTBEAT_MS);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await db.delete(gatewayNodes).where(eq(gatewayNodes.nodeId, nodeId)).catch(() => {});
    },
  };
}
