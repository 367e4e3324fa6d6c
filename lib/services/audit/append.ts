import { asc, desc, eq, sql } from "drizzle-orm";
import type { Db, Tx } from "@/db/client";
import { auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { storableJson, storableText } from "@/lib/util/storable-json";
import { mutate } from "../tx";
import { auditKeyId, GENESIS_HASH, KEYED_ACTION, macAuditRow } from "./chain";
import { auditKey } from "./key";
import { readKeyedMarker, writeKeyedMarker } from "./keyed-marker";

/** Any lock id works as long as every writer of audit_log uses the same one. */
const AUDIT_LOCK = 7347002;

export interface AuditEntry {
  action: string;
  subject: string;
  detail?: Record<string, unknown>;
}

/** A keyed log written with another key: a process configured apart from the others, or a lost key. */
export class AuditKeyMismatch extends Error {}

/**
 * Appends one hash-chained row inside the caller's transaction: if the audit write fails, the
 * change it describes rolls back with it. The advisory lock serializes writers across processes
 * so two rows can never claim the same predecessor.
 *
 * The row is hashed as it will be stored. Audited text often comes from a client (an email at a
 * failed login, a refused scope): a NUL in it made the write fail, so refusals audited on a
 * best-effort path went unrecorded, and an unpaired surrogate was stored as U+FFFD but hashed as
 * sent, so one failed login made `audit verify` report the log as tampered with.
 *
 * Links are HMACs under the audit key (chain.ts); a log not keyed yet is switched first. A log
 * keyed with another key refuses the write, so the change it describes rolls back: rows nobody
 * could verify are never added (fail closed).
 */
export async function appendAudit(tx: Tx, actor: Pick<Caller, "userId" | "email"> | null, entry: AuditEntry) {
  await tx.execute(sql.raw(`select pg_advisory_xact_lock(${AUDIT_LOCK})`));
  const key = auditKey();
  await keyChain(tx, key);
  return appendLocked(tx, key, actor, entry);
}

/**
 * Set at start once this process has seen the log keyed: from then on a log without its keyed
 * row was rewritten underneath it, and keying it again would bless the rewrite.
 */
const g = globalThis as { __gatehouseAuditKeyedFrom?: number };

/** Keys the log if it never was, else checks it is keyed with `key`; the switch row's seq. */
async function keyChain(tx: Tx, key: Buffer, seenKeyed = g.__gatehouseAuditKeyedFrom): Promise<number> {
  const keyId = auditKeyId(key);
  const [keyed] = await tx.select({ seq: auditLog.seq, detail: auditLog.detail }).from(auditLog).where(eq(auditLog.action, KEYED_ACTION)).orderBy(asc(auditLog.seq)).limit(1);
  if (!keyed) {
    if (seenKeyed !== undefined) {
      throw new AuditKeyMismatch(
        `the audit log was keyed from row ${seenKeyed}, but it has no keyed row now: it was rewritten without the audit key. ` +
          "Run `gatehouse audit verify` against a backup; nothing more is written to this log",
      );
    }
    return appendLocked(tx, key, null, { action: KEYED_ACTION, subject: "audit_log", detail: { keyId, scheme: "hmac-sha256" } });
  }
  if (keyed.detail.keyId !== keyId) {
    throw new AuditKeyMismatch(
      `the audit log is keyed (from row ${keyed.seq}) with audit key ${String(keyed.detail.keyId)}, but this process's key is ${keyId}: ` +
        "every process on one database needs the same GATEHOUSE_AUDIT_KEY (or the same GATEHOUSE_SECRET_KEY, from which it is derived when unset); " +
        "if the data dir's master.key was lost, restore it",
    );
  }
  return keyed.seq;
}

async function appendLocked(tx: Tx, key: Buffer, actor: Pick<Caller, "userId" | "email"> | null, entry: AuditEntry) {
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
  const hash = macAuditRow(key, prevHash, row);
  await tx.insert(auditLog).values({ ...row, prevHash, hash });
  return seq;
}

/**
 * At start: keys the log if it is not yet, and refuses to start with a key other than the log's,
 * rather than failing every audited change later. The data dir remembers that the log was keyed
 * (keyed-marker.ts): a log that lost its keyed rows while no process ran is not keyed afresh.
 */
export async function checkAuditKey(db: Db, dataDir: string): Promise<void> {
  const marker = readKeyedMarker(dataDir);
  const seq = await mutate(db, async (tx) => {
    await tx.execute(sql.raw(`select pg_advisory_xact_lock(${AUDIT_LOCK})`));
    return keyChain(tx, auditKey(), marker?.seq);
  });
  writeKeyedMarker(dataDir, { seq, keyId: auditKeyId(auditKey()) });
  g.__gatehouseAuditKeyedFrom = seq;
}
