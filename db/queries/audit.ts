import { and, asc, desc, eq, gt, inArray } from "drizzle-orm";
import type { Db, Tx } from "../client";
import { auditLog } from "../schema";
import { KEYED_ACTION, ROTATED_ACTION, type AuditRow } from "@/lib/services/audit/chain";
import type { KeyRow } from "@/lib/services/audit/key-history";

const columns = {
  seq: auditLog.seq,
  at: auditLog.at,
  actorId: auditLog.actorId,
  actorEmail: auditLog.actorEmail,
  action: auditLog.action,
  subject: auditLog.subject,
  detail: auditLog.detail,
  prevHash: auditLog.prevHash,
  hash: auditLog.hash,
};

export function recentAudit(db: Db, params: { limit?: number }) {
  return db.select(columns).from(auditLog).orderBy(desc(auditLog.seq)).limit(Math.min(params.limit ?? 200, 1000));
}

/** The whole log in pages, in seq order, for verification and export without loading it all. */
export async function* walkAudit(db: Db, pageSize = 1000): AsyncGenerator<AuditRow> {
  let after = 0;
  for (;;) {
    const page = await db.select(columns).from(auditLog).where(gt(auditLog.seq, after)).orderBy(asc(auditLog.seq)).limit(pageSize);
    for (const row of page) yield row;
    if (page.length < pageSize) return;
    after = page[page.length - 1].seq;
  }
}

/** The first row of `action` about `subject` (e.g. a session's `session.sealed`), or null. */
export async function firstAuditRowFor(db: Db, action: string, subject: string): Promise<AuditRow | null> {
  const [row] = await db.select(columns).from(auditLog).where(and(eq(auditLog.action, action), eq(auditLog.subject, subject))).orderBy(asc(auditLog.seq)).limit(1);
  return row ?? null;
}

/** The rows that say which key the log is under (its switch to keyed links, its rotations): a few, read by index. */
export function auditKeyRows(db: Db | Tx): Promise<KeyRow[]> {
  return db
    .select({ seq: auditLog.seq, action: auditLog.action, detail: auditLog.detail, prevHash: auditLog.prevHash })
    .from(auditLog)
    .where(inArray(auditLog.action, [KEYED_ACTION, ROTATED_ACTION]))
    .orderBy(asc(auditLog.seq));
}
