import type { Db } from "@/db/client";
import { loggable } from "@/lib/util/loggable";
import { mutate } from "../tx";
import { appendAudit, type AuditEntry } from "./append";

/**
 * Audits a refused credential (a failed gateway or API authentication) in its own transaction.
 * Best effort: the caller is refused whatever happens here, and a database that cannot take the
 * row must not turn the refusal into a different answer. Never pass the credential itself.
 */
export async function auditRefusedCredential(db: Db, entry: AuditEntry): Promise<void> {
  await mutate(db, (tx) => appendAudit(tx, null, entry)).catch((err) => console.error(`[audit] could not record ${entry.action}:`, loggable(err)));
}
