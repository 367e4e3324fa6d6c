import { sql } from "drizzle-orm";
import { bigint, index, jsonb, pgTable, text, timestamp } from "drizzle-orm/pg-core";

/**
 * Append-only, hash-chained: hash = sha256(prevHash + canonical(row)) up to the row that keys the
 * chain (action `audit.chain_keyed`), HMAC-SHA256 under the audit key from it on
 * (lib/services/audit/chain.ts). Editing, deleting or reordering any row breaks every later link;
 * `gatehouse audit verify` names the first bad row.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    seq: bigint("seq", { mode: "number" }).primaryKey(),
    at: timestamp("at", { withTimezone: true, precision: 3 }).notNull(),
    actorId: text("actor_id"),
    actorEmail: text("actor_email").notNull(),
    action: text("action").notNull(),
    subject: text("subject").notNull(),
    detail: jsonb("detail").$type<Record<string, unknown>>().notNull(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    // every append looks up the switch to keyed links: one row, found without reading the log
    index("audit_log_keyed_idx").on(t.seq).where(sql`${t.action} = 'audit.chain_keyed'`),
    // the rows of one action about one subject, first or newest: a session's seal (its verify, its
    // badge, every seal's "sealed already?"), the key rotations every append reads
    index("audit_log_action_subject_idx").on(t.action, t.subject, t.seq),
  ],
);
