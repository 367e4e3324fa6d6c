import { desc, sql } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { GENESIS_HASH, hashAuditRow } from "./chain";

/** Any lock id works as long as every writer of audit_log uses the same one. */
const AUDIT_LOCK = 7347002;

export interface AuditEntry {
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

/**
 * Appends one hash-chained row inside the caller's transaction: if the audit write fails, the
 * change it describes rolls back with it. The advisory lock serializes writers across processes
 * so two rows can never claim the same predecessor.
 */
export async function appendAudit(tx: Tx, actor: Pick<Caller, "userId" | "email"> | null, entry: AuditEntry) {
  await tx.execute(sql.raw(`select pg_advisory_xact_lock(${AUDIT_LOCK})`));
  const [last] = await tx.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  const row = {
    seq,
    at: new Date(),
    actorId: actor?.userId ?? null,
    actorEmail: actor?.email ?? "system",
    action: entry.action,
    subject: entry.subject,
    detail: entry.detail ?? {},
  };
  const hash = hashAuditRow(prevHash, row);
  await tx.insert(auditLog).values({ ...row, prevHash, hash });
  return seq;
}
