import { desc, sql } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { storableJson, storableText } from "@/lib/util/storable-json";
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
 *
 * The row is hashed as it will be stored. Audited text often comes from a client (an email at a
 * failed login, a refused scope): a NUL in it made the write fail, so refusals audited on a
 * best-effort path went unrecorded, and an unpaired surrogate was stored as U+FFFD but hashed as
 * sent, so one failed login made `audit verify` report the log as tampered with.
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
    actorEmail: storableText(actor?.email ?? "system"),
    action: storableText(entry.action),
    subject: storableText(entry.subject),
    detail: JSON.parse(storableJson(entry.detail ?? {})) as Record<string, unknown>,
  };
  const hash = hashAuditRow(prevHash, row);
  await tx.insert(auditLog).values({ ...row, prevHash, hash });
  return seq;
}
