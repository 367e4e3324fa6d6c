import { index, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

export interface StoredActor {
  kind: "user" | "service" | "agent";
  id: string;
  name: string;
  tokenId?: string;
}

export const tokens = pgTable(
  "tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    /** sha256 of the whole compact JWS; the token itself is never stored */
    tokenHash: text("token_hash").notNull().unique(),
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    name: text("name").notNull().default(""),
    /** personal | login | delegated | ticket */
    kind: text("kind").notNull().default("personal"),
    parentTokenId: uuid("parent_token_id"),
    chain: jsonb("chain").$type<StoredActor[]>().notNull(),
    depth: integer("depth").notNull().default(0),
    scopeConnections: jsonb("scope_connections").$type<string[]>().notNull(),
    scopeActions: jsonb("scope_actions").$type<string[]>().notNull(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true }),
    createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index("tokens_user_idx").on(t.userId), index("tokens_parent_idx").on(t.parentTokenId)],
);
