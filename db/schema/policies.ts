import { boolean, integer, jsonb, pgTable, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { users } from "./users";

/** Every save is a new row; the highest version is in force. Rolling back = saving an old text again. */
export const policyVersions = pgTable("policy_versions", {
  version: integer("version").primaryKey(),
  text: text("text").notNull(),
  authorId: uuid("author_id").references(() => users.id, { onDelete: "set null" }),
  comment: text("comment").notNull().default(""),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

/**
 * A policy text being previewed across processes on a shared database
 * (lib/services/policies/impact.ts): each process adds what the text would end among its live
 * sessions under its node id. Short-lived: rows older than ten minutes are deleted.
 */
export const policyPreviews = pgTable("policy_previews", {
  id: uuid("id").primaryKey().defaultRandom(),
  text: text("text").notNull(),
  results: jsonb("results").$type<Record<string, unknown>>().notNull().default({}),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
});

export const maskingRules = pgTable("masking_rules", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull().unique(),
  enabled: boolean("enabled").notNull().default(true),
  /** the rule set(s) a policy's @mask("...") names; "*" in a policy means every enabled rule */
  ruleSet: text("rule_set").notNull().default("default"),
  definition: jsonb("definition").$type<Record<string, unknown>>().notNull(),
  createdAt: timestamp("created_at", { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});
