import { desc, sql } from "drizzle-orm";
import { storeGeneration, type Db, type Tx } from "@/db/client";
import { auditKeyRows } from "@/db/queries/audit";
import { auditLog } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { storableJson, storableText } from "@/lib/util/storable-json";
import { mutate } from "../tx";
import { GENESIS_HASH, KEYED_ACTION, macAuditRow, type KeyRing, type KeySegment } from "./chain";
import { auditKeyRing } from "./key";
import { AuditKeyMismatch, checkCountersigns, keyHistory, lastRotation, type KeyHistory } from "./key-history";
import { readKeyedMarker, writeKeyedMarker } from "./keyed-marker";

export { AuditKeyMismatch };

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
 *
 * Links are HMACs under the log's current audit key (chain.ts); a log not keyed yet is switched
 * first. A log keyed with a key this process lacks, or rotated away from this process's key,
 * refuses the write, so the change it describes rolls back: rows nobody could verify are never
 * added, and a process left on a retired key cannot fork the chain (fail closed).
 */
export async function appendAudit(tx: Tx, actor: Pick<Caller, "userId" | "email"> | null, entry: AuditEntry) {
  await lockAudit(tx);
  const { key } = await lockedLogKey(tx, auditKeyRing());
  return (await appendLocked(tx, key, actor, entry)).seq;
}

export async function lockAudit(tx: Tx): Promise<void> {
  await tx.execute(sql.raw(`select pg_advisory_xact_lock(${AUDIT_LOCK})`));
}

/**
 * What this process has seen of the log, set at start (from the data dir's note) and on every
 * write: from then on a log without its keyed row was rewritten underneath it (keying it again
 * would bless the rewrite), and one without its newest rotation, where and to which key it was,
 * was rewritten by someone holding the retired key: with it, the rows after the rotation can be
 * relinked under the old key and the rotation forged again further on, or dropped.
 */
interface Seen {
  keyedFrom: number;
  /** the segment the newest rotation began */
  rotated?: KeySegment;
  /** the store it was seen in (db/client.ts storeGeneration) */
  store: number;
}
const g = globalThis as { __gatehouseAuditSeen?: Seen };

function seenOf(history: KeyHistory): Seen {
  return { keyedFrom: history.keyedFrom, ...(history.segments.length > 1 ? { rotated: history.segments.at(-1)! } : {}), store: storeGeneration() };
}

/** What this process saw of the store it has open now. */
const seenNow = () => (g.__gatehouseAuditSeen?.store === storeGeneration() ? g.__gatehouseAuditSeen : undefined);

/** The newest rotation this process saw, for `audit verify` to hold the log to. */
export function seenRotation(): KeySegment | undefined {
  return seenNow()?.rotated;
}

/** Throws when the log lost what this process saw of it (above). */
export function checkSeen(history: KeyHistory | null, seen: Omit<Seen, "store"> | undefined = seenNow()): void {
  if (!seen) return;
  if (!history) {
    throw new AuditKeyMismatch(
      `the audit log was keyed from row ${seen.keyedFrom}, but it has no keyed row now: it was rewritten without the audit key. ` +
        "Run `gatehouse audit verify` against a backup; nothing more is written to this log",
    );
  }
  const r = seen.rotated;
  if (r && !history.segments.some((s) => s.from === r.from && s.keyId === r.keyId)) {
    throw new AuditKeyMismatch(
      `the audit key was rotated at row ${r.from - 1} (to ${r.keyId}), but the log has no such rotation now: it was moved or removed, and the rows after it rewritten under the retired key. ` +
        "Run `gatehouse audit verify` against a backup; nothing more is written to this log",
    );
  }
}

/**
 * Under the audit lock: the key the next row is written with, and the log's key history. Keys the
 * log if it never was. Every process reads the history from the log itself on each write, so all
 * processes on one database switch at the rotation row, and none can write after it with the key
 * it retired.
 */
export async function lockedLogKey(tx: Tx, ring: KeyRing, seen: Omit<Seen, "store"> | undefined = seenNow()): Promise<{ key: Buffer; history: KeyHistory }> {
  const keyRows = await auditKeyRows(tx);
  const history = keyHistory(keyRows);
  checkSeen(history, seen);
  checkCountersigns(keyRows, ring, seen?.rotated);
  if (!history) {
    const { seq } = await appendLocked(tx, ring.current, null, { action: KEYED_ACTION, subject: "audit_log", detail: { keyId: ring.currentId, scheme: "hmac-sha256" } });
    return { key: ring.current, history: { keyedFrom: seq, segments: [{ from: seq, keyId: ring.currentId }], retiredAt: new Map() } };
  }
  const logKeyId = history.segments.at(-1)!.keyId;
  const retiredAt = history.retiredAt.get(ring.currentId);
  if (retiredAt !== undefined) {
    throw new AuditKeyMismatch(
      `this process's audit key ${ring.currentId} was retired at row ${retiredAt} (rotated to ${history.segments.find((s) => s.from === retiredAt + 1)!.keyId}; the log is keyed with ${logKeyId} now): ` +
        "set the new key as GATEHOUSE_AUDIT_KEY on this process and list the retired one in GATEHOUSE_AUDIT_KEYS_RETIRED",
    );
  }
  // Before a rotation, a process already given the next key (the log's in its retired list)
  // writes with the log's key, so all processes can be reconfigured before `rotate-key`.
  const key = ring.byId.get(logKeyId);
  if (!key) {
    throw new AuditKeyMismatch(
      `the audit log is keyed (from row ${history.segments.at(-1)!.from}) with audit key ${logKeyId}, but this process's key is ${ring.currentId}: ` +
        "every process on one database needs the same GATEHOUSE_AUDIT_KEY (or the same GATEHOUSE_SECRET_KEY, from which it is derived when unset); " +
        "if the data dir's master.key was lost, restore it",
    );
  }
  g.__gatehouseAuditSeen = seenOf(history);
  return { key, history };
}

/**
 * Under the audit lock: the row, linked under `key`; its seq and hash. `entry` may depend on the
 * row's place (a rotation's countersignature covers it).
 */
export async function appendLocked(
  tx: Tx,
  key: Buffer,
  actor: Pick<Caller, "userId" | "email"> | null,
  entryAt: AuditEntry | ((place: { seq: number; prevHash: string }) => AuditEntry),
): Promise<{ seq: number; hash: string }> {
  const [last] = await tx.select({ seq: auditLog.seq, hash: auditLog.hash }).from(auditLog).orderBy(desc(auditLog.seq)).limit(1);
  const seq = (last?.seq ?? 0) + 1;
  const prevHash = last?.hash ?? GENESIS_HASH;
  const entry = typeof entryAt === "function" ? entryAt({ seq, prevHash }) : entryAt;
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
  return { seq, hash };
}

/**
 * At start: keys the log if it is not yet, and refuses to start with a key other than the log's
 * (or one the log rotated away from), rather than failing every audited change later. The data
 * dir remembers that the log was keyed and its newest rotation (keyed-marker.ts): a log that lost
 * those rows while no process ran is not keyed afresh, nor written under a retired key.
 */
export async function checkAuditKey(db: Db, dataDir: string): Promise<void> {
  const marker = readKeyedMarker(dataDir);
  const seen = marker ? { keyedFrom: marker.seq, ...(marker.rotatedAt === undefined ? {} : { rotated: { from: marker.rotatedAt + 1, keyId: marker.keyId } }) } : undefined;
  const history = await mutate(db, async (tx) => {
    await lockAudit(tx);
    return (await lockedLogKey(tx, auditKeyRing(), seen)).history;
  });
  rememberKeyHistory(dataDir, history);
}

/** After a start or a rotation: the data dir's note of the log's keyed row and newest rotation. */
export function rememberKeyHistory(dataDir: string, history: KeyHistory): void {
  const rotatedAt = lastRotation(history);
  writeKeyedMarker(dataDir, { seq: history.keyedFrom, keyId: history.segments.at(-1)!.keyId, ...(rotatedAt === undefined ? {} : { rotatedAt }) });
  g.__gatehouseAuditSeen = seenOf(history);
}
