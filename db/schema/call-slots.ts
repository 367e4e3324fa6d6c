import { index, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

/**
 * MCP call slots taken on a shared PostgreSQL (lib/mcp/shared-slots.ts): one row per running call,
 * so every process counts a user's calls together. A row of a process that stopped renewing its
 * `gateway_nodes` heartbeat no longer counts, so a crashed process frees its slots.
 */
export const mcpCallSlots = pgTable(
  "mcp_call_slots",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** the pool the call counts in (lib/mcp/call-slots.ts callPoolOf) */
    pool: text("pool").notNull(),
    nodeId: text("node_id").notNull(),
    takenAt: timestamp("taken_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("mcp_call_slots_pool_idx").on(t.pool), index("mcp_call_slots_node_idx").on(t.nodeId)],
);
