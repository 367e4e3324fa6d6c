import { sql } from "drizzle-orm";
import { bigint, customType, index, integer, jsonb, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";
import type { StoredActor } from "./tokens";

export const sessions = pgTable(
  "sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id"),
    userEmail: text("user_email").notNull(),
    chain: jsonb("chain").$type<StoredActor[]>().notNull(),
    tokenId: uuid("token_id"),
    parentSessionId: uuid("parent_session_id"),
    connectionId: uuid("connection_id"),
    connectionName: text("connection_name").notNull(),
    protocol: text("protocol").notNull(),
    origin: text("origin").notNull().default("native"),
    clientAddress: text("client_address").notNull().default(""),
    applicationName: text("application_name").notNull().default(""),
    /** live | ended | killed | failed */
    status: text("status").notNull().default("live"),
    endReason: text("end_reason"),
    /** the gateway process serving it, so a kill can reach it */
    nodeId: text("node_id").notNull().default(""),
    counters: jsonb("counters").$type<Record<string, number>>().notNull().default({}),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
  },
  (t) => [
    index("sessions_started_idx").on(t.startedAt),
    index("sessions_token_idx").on(t.tokenId),
    // the live sessions of a process (node-liveness.ts ends those of a process that is gone)
    index("sessions_live_node_idx").on(t.nodeId).where(sql`${t.status} = 'live'`),
  ],
);

/**
 * Gatehouse processes on a shared PostgreSQL, each renewing `lastSeen` (the database's clock)
 * while it runs: the live sessions of a process that stopped renewing are over (node-liveness.ts).
 */
export const gatewayNodes = pgTable("gateway_nodes", {
  nodeId: text("node_id").primaryKey(),
  startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
  lastSeen: timestamp("last_seen", { withTimezone: true }).notNull().defaultNow(),
});

const bytea = customType<{ data: Buffer; driverData: Buffer | Uint8Array }>({
  dataType: () => "bytea",
  fromDriver: (v) => (Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength)),
});

/**
 * Append-only, batched. The single recording format for every protocol. Keyed by (session, seq):
 * no surrogate id, whose sequence and second index cost the recorder a sixth of its insert time.
 */
export const sessionEvents = pgTable(
  "session_events",
  {
    sessionId: uuid("session_id").notNull(),
    seq: integer("seq").notNull(),
    /** milliseconds since session start */
    tMs: bigint("t_ms", { mode: "number" }).notNull(),
    kind: text("kind").notNull(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    /**
     * Bulk terminal output as bytes (lib/gateway/recorder/packed-output.ts): storage only, never
     * seen by readers, which get it unpacked into `payload`. Stored EXTERNAL (no TOAST compression:
     * the recorder deflates what compresses).
     */
    data: bytea("data"),
  },
  (t) => [
    primaryKey({ name: "session_events_pkey", columns: [t.sessionId, t.seq] }),
    // A session's decided requests by time (db/queries/stats.ts), without its screen output: a
    // shell live for weeks is all output. Only these kinds are indexed, so the recorder's bulk
    // output costs no second index; the kinds must stay literal in the queries that use it.
    index("session_events_decided_idx").on(t.sessionId, t.tMs).where(sql`${t.kind} in ('request', 'connect', 'verdict')`),
  ],
);

/**
 * Replay keyframes of an ended terminal channel (lib/gateway/recorder/replay), kept so the first
 * seek into a long recording is fast in every process, not only the one that prepared them. A
 * cache: derivable from `session_events` at any time, so never audited and safe to delete.
 */
export const replayKeyframes = pgTable(
  "replay_keyframes",
  {
    sessionId: uuid("session_id").notNull(),
    ch: integer("ch").notNull(),
    /** the replay store's format version; other versions are ignored and rebuilt */
    format: integer("format").notNull(),
    /** the keyframes as JSON, deflated, base64 */
    data: text("data").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.ch] })],
);
