import { randomUUID } from "node:crypto";
import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { storeDeadline } from "@/db/unavailable";
import { mcpCallSlots } from "@/db/schema";
import { getBus } from "@/lib/events/bus";
import { NODE_GONE_AFTER_MS } from "@/lib/services/sessions/node-liveness";
import { loggable } from "@/lib/util/loggable";

/**
 * MCP call slots counted across every process on one PostgreSQL. A call holds an upstream
 * connection, and the upstream's connections are shared by all Gatehouse processes: counted per
 * process, N processes let one user's agents hold N times the limit.
 *
 * One row per running call. Taking one counts the pool's rows under a transaction-scoped advisory
 * lock on the pool (no two processes count the same pool at once) and inserts only below the
 * limit: one short transaction per call. A call of an agent branch also counts against the
 * share of its branch and of every branch above it: its row's `pool` is "<pool>/<branch>", whose
 * key extends its parent branch's ("branch:A/B"), counted in each. Rows of a process whose heartbeat (`gateway_nodes`) is
 * older than NODE_GONE_AFTER_MS do not count, so a crashed process frees its slots; a row of a
 * process with no heartbeat row counts (fail closed). A delete that failed is retried by the
 * sweep, which removes this process's rows it no longer holds and gone processes' rows.
 */
const g = globalThis as { __gatehouseSharedSlots?: { held: Set<string>; sweeping: NodeJS.Timeout | null } };
const state = (g.__gatehouseSharedSlots ??= { held: new Set(), sweeping: null });

/** A store that does not answer is an answer: the call is refused, not left hanging. */
const STORE_WAIT_MS = 5_000;
const SWEEP_MS = 10_000;

const gone = () => sql.raw(`now() - interval '${Math.ceil(NODE_GONE_AFTER_MS / 1000)} seconds'`);

/**
 * A slot in `pool` (and in each of `branches`, top-level agent's first, the call's own last) as its
 * id, or which is full when `limit` calls of the pool (or a branch's `limit` of that branch, counting
 * everything below it) are running on live processes. Throws when the store fails.
 */
export async function takeSharedSlot(db: Db, pool: string, limit: number, branches: readonly { key: string; limit: number }[]): Promise<string | "pool" | "agent" | `agent:${number}`> {
  startSweeping(db);
  const nodeId = getBus().nodeId;
  // Held before it exists, so a sweep running meanwhile never deletes it as a leftover.
  const id = randomUUID();
  state.held.add(id);
  try {
    const taken = await storeDeadline(
      db.transaction(async (tx) => {
        await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`gatehouse:mcp-call-slots:${pool}`}, 0))`);
        const own = branches.length ? `${pool}/${branches.at(-1)!.key}` : pool;
        // each branch's count: its own rows and those of every branch below it
        const inBranch = branches.map((b, i) => sql`(count(*) filter (where ${mcpCallSlots.pool} = ${`${pool}/${b.key}`} or starts_with(${mcpCallSlots.pool}, ${`${pool}/${b.key}/`})))::int as ${sql.identifier(`b${i}`)}`);
        // spelled out: drizzle would write the outer column unqualified inside the subquery
        const [counts] = (await tx.execute(sql`
          select count(*)::int as n${inBranch.length ? sql`, ${sql.join(inBranch, sql`, `)}` : sql``}
          from mcp_call_slots
          where (${mcpCallSlots.pool} = ${pool} or starts_with(${mcpCallSlots.pool}, ${`${pool}/`}))
            and not exists (select 1 from gateway_nodes n where n.node_id = mcp_call_slots.node_id and n.last_seen < ${gone()})`)) as unknown as Record<string, number>[];
        if (Number(counts.n) >= limit) return "pool";
        const full = branches.findIndex((b, i) => Number(counts[`b${i}`]) >= b.limit);
        if (full >= 0) return full === 0 ? "agent" : (`agent:${full + 1}` as const);
        await tx.insert(mcpCallSlots).values({ id, pool: own, nodeId });
        return id;
      }),
      STORE_WAIT_MS,
    );
    if (taken !== id) state.held.delete(id);
    return taken;
  } catch (err) {
    state.held.delete(id);
    throw err;
  }
}

export function giveSharedSlot(db: Db, id: string) {
  state.held.delete(id);
  void db
    .delete(mcpCallSlots)
    .where(eq(mcpCallSlots.id, id))
    .catch((err) => console.error("[mcp] giving back a shared call slot failed; the sweep retries:", loggable(err)));
}

function startSweeping(db: Db) {
  if (state.sweeping) return;
  const nodeId = getBus().nodeId;
  state.sweeping = setInterval(() => {
    const held = [...state.held];
    void db
      .delete(mcpCallSlots)
      .where(
        // this process's leftovers only once old: a slot being taken right now is not in `held` yet for this snapshot
        sql`(mcp_call_slots.node_id = ${nodeId} and mcp_call_slots.taken_at < now() - interval '1 minute' and ${held.length ? sql`mcp_call_slots.id::text not in (${sql.join(held.map((h) => sql`${h}`), sql`, `)})` : sql`true`})
          or mcp_call_slots.node_id in (select node_id from gateway_nodes where last_seen < ${gone()})`,
      )
      .catch((err) => console.error("[mcp] sweeping shared call slots failed:", loggable(err)));
  }, SWEEP_MS);
  state.sweeping.unref();
}
