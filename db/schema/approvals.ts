import { index, integer, jsonb, pgTable, serial, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { connections } from "./connections";
import { users } from "./users";
import { tokens, type StoredActor } from "./tokens";

export const approvalRequests = pgTable(
  "approval_requests",
  {
    id: serial("id").primaryKey(),
    /** statement | access (just-in-time access grant) */
    kind: text("kind").notNull().default("statement"),
    /** sha256 over exactly what will run; see lib/gateway/approvals/binding.ts */
    bindingHash: text("binding_hash").notNull(),
    /**
     * Null once the connection is deleted: the request, its decisions and its grant are evidence
     * of who asked for and who allowed what, and outlive the connection (with its name below).
     * Null matches no connection, so nothing left here grants access to anything.
     */
    connectionId: uuid("connection_id").references(() => connections.id, { onDelete: "set null" }),
    /** the connection's name when the request was made; what is shown once the connection is gone */
    connectionName: text("connection_name").notNull().default(""),
    requesterId: uuid("requester_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    chain: jsonb("chain").$type<StoredActor[]>().notNull(),
    sessionId: uuid("session_id"),
    request: jsonb("request").$type<Record<string, unknown>>().notNull(),
    reason: text("reason").notNull().default(""),
    approverGroups: jsonb("approver_groups").$type<string[]>().notNull(),
    minApprovals: integer("min_approvals").notNull().default(1),
    /** pending | approved | denied | expired | cancelled | used */
    status: text("status").notNull().default("pending"),
    /** approved time window: until then the same binding is approved again without a new request */
    windowUntil: timestamp("window_until", { withTimezone: true }),
    /** for access requests: how long the grant lasts once approved */
    durationSeconds: integer("duration_seconds"),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    decidedAt: timestamp("decided_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("approval_requests_status_idx").on(t.status), index("approval_requests_binding_idx").on(t.bindingHash)],
);

export const approvalDecisions = pgTable(
  "approval_decisions",
  {
    id: serial("id").primaryKey(),
    requestId: integer("request_id").notNull().references(() => approvalRequests.id, { onDelete: "cascade" }),
    approverId: uuid("approver_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    decision: text("decision", { enum: ["approve", "deny"] }).notNull(),
    comment: text("comment").notNull().default(""),
    /** the time window this approver agreed to; the request gets the smallest of its approvers' */
    windowSeconds: integer("window_seconds"),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  // One decision per approver: N-of-M must count N different people, even under a race.
  (t) => [uniqueIndex("approval_decisions_request_approver_idx").on(t.requestId, t.approverId)],
);

export const accessGrants = pgTable(
  "access_grants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    /** null once the connection is deleted (the grant is then revoked and kept as evidence) */
    connectionId: uuid("connection_id").references(() => connections.id, { onDelete: "set null" }),
    connectionName: text("connection_name").notNull().default(""),
    /**
     * The delegated token (an agent's) that asked: the grant holds for sessions of that agent and
     * of the agents it spawns, not for its human or its siblings. Null when the user asked
     * themself: then it holds for all of the user's sessions. Never set null on delete: that
     * would widen the grant to the whole user.
     */
    actorTokenId: uuid("actor_token_id").references(() => tokens.id, { onDelete: "cascade" }),
    requestId: integer("request_id").references(() => approvalRequests.id, { onDelete: "set null" }),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("access_grants_user_connection_idx").on(t.userId, t.connectionId), index("access_grants_actor_token_idx").on(t.actorTokenId)],
);
