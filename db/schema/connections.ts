import { jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const CONNECTION_TYPES = ["postgres", "mysql", "ssh", "kubernetes", "http"] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];

export const connections = pgTable("connections", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  type: text("type", { enum: CONNECTION_TYPES }).notNull(),
  /** e.g. postgres://db.internal:5432/app, ssh://host:22, https://k8s:6443, http://svc:8080 */
  upstream: text("upstream").notNull(),
  /** upstream login name (database user, ssh user); not secret */
  username: text("username").notNull().default(""),
  tags: jsonb("tags").$type<string[]>().notNull().default([]),
  /** AES-256-GCM envelope (see lib/crypto/secrets.ts); never leaves the server */
  secretCiphertext: text("secret_ciphertext"),
  /** protocol-specific, non-secret options (tls mode, database name, pinned host key...) */
  options: jsonb("options").$type<Record<string, unknown>>().notNull().default({}),
  description: text("description").notNull().default(""),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
