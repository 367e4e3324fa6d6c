import { boolean, integer, pgTable, primaryKey, text, timestamp, uuid } from "drizzle-orm/pg-core";

export const users = pgTable("users", {
  id: uuid("id").primaryKey().defaultRandom(),
  email: text("email").notNull().unique(),
  name: text("name").notNull().default(""),
  role: text("role", { enum: ["admin", "approver", "auditor", "member"] }).notNull().default("member"),
  /** scrypt hash, null for OIDC-only accounts */
  passwordHash: text("password_hash"),
  disabled: boolean("disabled").notNull().default(false),
  /** bumped on disable/role change: console sessions carrying an older value are dead */
  sessionVersion: integer("session_version").notNull().default(1),
  /** where the account came from: local | oidc */
  source: text("source").notNull().default("local"),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const groups = pgTable("groups", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  description: text("description").notNull().default(""),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const memberships = pgTable(
  "memberships",
  {
    userId: uuid("user_id").notNull().references(() => users.id, { onDelete: "cascade" }),
    groupId: uuid("group_id").notNull().references(() => groups.id, { onDelete: "cascade" }),
    /** console (managed by an admin) or oidc (synced from the groups claim at login) */
    source: text("source").notNull().default("console"),
  },
  (t) => [primaryKey({ columns: [t.userId, t.groupId] })],
);
