import { createHash, createHmac } from "node:crypto";

/** The hashed content of one audit row. */
export interface AuditRow {
  seq: number;
  at: Date;
  actorId: string | null;
  actorEmail: string;
  action: string;
  subject: string;
  detail: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export const GENESIS_HASH = "0".repeat(64);

/** JSON with sorted keys at every level, so jsonb's key reordering cannot change a hash. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(",")}}`;
}

function rowBody(row: Omit<AuditRow, "hash" | "prevHash">): string {
  return canonicalJson({
    seq: row.seq,
    at: row.at.toISOString(),
    actorId: row.actorId,
    actorEmail: row.actorEmail,
    action: row.action,
    subject: row.subject,
    detail: row.detail,
  });
}

/** The unkeyed link of rows written before the chain was keyed. */
export function hashAuditRow(prevHash: string, row: Omit<AuditRow, "hash" | "prevHash">): string {
  return createHash("sha256").update(prevHash).update("\n").update(rowBody(row)).digest("hex");
}

/**
 * The row that switches the chain to keyed links. Every row from it on (itself included) is an
 * HMAC under the audit key (key.ts), which never enters the database: someone who can write to
 * the database can still rewrite rows, but no longer recompute links that verify. Its own link
 * covers the last unkeyed hash, so the rows before it cannot be rewritten either without breaking
 * it, and rewriting the whole log unkeyed (the switch dropped) fails because a key is configured.
 */
export const KEYED_ACTION = "audit.chain_keyed";

/** Names a key without revealing it: which key a keyed log was written with. */
export function auditKeyId(key: Buffer): string {
  return createHmac("sha256", key).update("gatehouse audit key id").digest("hex").slice(0, 16);
}

export function macAuditRow(key: Buffer, prevHash: string, row: Omit<AuditRow, "hash" | "prevHash">): string {
  return createHmac("sha256", key).update(prevHash).update("\n").update(rowBody(row)).digest("hex");
}

/**
 * The row that rotates the audit key (rotate-key.ts): `detail.fromKeyId` is the key it is itself
 * keyed with, `detail.toKeyId` the key of every row after it. It names the new key by id only, and
 * being an HMAC under the old key it commits to that id: someone holding only the new key cannot
 * rewrite a row before it, nor the rotation itself.
 */
export const ROTATED_ACTION = "audit.key_rotated";

/**
 * The new key's countersignature on a rotation row (its `detail.countersign`): an HMAC under the key
 * the log rotates to, over the row's place (seq, and the hash of the row before it) and both key
 * ids. The row's own link is under the retired key, which may be the one that leaked: with it alone
 * someone could relink the rows after a rotation and write the rotation again further on, which
 * only a head kept from before showed. Without the new key no rotation to it can be written anywhere
 * but where it was.
 */
export function rotationCountersign(newKey: Buffer, r: { seq: number; prevHash: string; fromKeyId: string; toKeyId: string }): string {
  return createHmac("sha256", newKey).update(`gatehouse audit key rotation\n${r.seq}\n${r.prevHash}\n${r.fromKeyId}\n${r.toKeyId}`).digest("hex");
}

/** Whether a rotation row carries the countersignature of `newKey` (the key its `toKeyId` names). */
export function countersigned(newKey: Buffer, row: { seq: number; prevHash: string; detail: Record<string, unknown> }): boolean {
  const { fromKeyId, toKeyId, countersign } = row.detail;
  return typeof countersign === "string" && countersign === rotationCountersign(newKey, { seq: row.seq, prevHash: row.prevHash, fromKeyId: String(fromKeyId), toKeyId: String(toKeyId) });
}

/** The keys a process can verify with, by id; `current` is the one it writes with. */
export interface KeyRing {
  current: Buffer;
  currentId: string;
  byId: ReadonlyMap<string, Buffer>;
}

export function keyRing(current: Buffer, retired: Buffer[] = []): KeyRing {
  const byId = new Map<string, Buffer>(retired.map((k) => [auditKeyId(k), k]));
  const currentId = auditKeyId(current);
  byId.set(currentId, current);
  return { current, currentId, byId };
}

/** Rows `from` on are keyed with `keyId` (a rotation row belongs to the segment before it). */
export interface KeySegment {
  from: number;
  keyId: string;
}

export type ChainVerdict =
  | { ok: true; rows: number; head: string; keyedFrom?: number; segments?: KeySegment[] }
  | { ok: false; rows: number; seq: number; problem: string; key?: "missing" | "mismatch" | "retired"; segment?: KeySegment; pending?: true };

const RETIRED_HINT = "give it as GATEHOUSE_AUDIT_KEY, or in GATEHOUSE_AUDIT_KEYS_RETIRED if it was rotated away from";

/**
 * Walks rows in seq order. A deleted row shows as a seq gap or a prev-hash mismatch, an edited
 * row as a hash mismatch, a reordered pair as both; the first broken row is named. Rows before the
 * KEYED_ACTION row are checked as plain hashes (logs written before the switch), the rest as HMACs
 * under the key of their segment: the switch row's key, then from each ROTATED_ACTION row on the
 * key it names, found in `ring` by id. With a key, a log without the switch row was rewritten by
 * someone without the key; a failure names the segment (first row, key id) it is in.
 *
 * A log whose newest segment is under a key the ring holds as retired fails too: either the
 * rotation was not done yet, or its rows were cut off and the log continued under the old key
 * (by someone who has it: the exposure a rotation answers).
 *
 * `head`: a head reported by an earlier verification. The log only grows, so it must still be in
 * it; if not, its newest rows were cut off (which no link can show) or it was rewritten.
 *
 * `rotation`: a segment a rotation began, as seen earlier (by the server, or the head printed by
 * `rotate-key` given as `head`). Someone holding the retired key can relink every row after the
 * rotation under it and forge the rotation again further on: the links then verify, and only
 * where the rotation was shows it.
 */
export function verifyChain(rows: Iterable<AuditRow>, keys: KeyRing | Buffer | null = null, opts: { head?: string; rotation?: KeySegment } = {}): ChainVerdict {
  const ring = Buffer.isBuffer(keys) ? keyRing(keys) : keys;
  let headSeen = opts.head === undefined;
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  const segments: KeySegment[] = [];
  const r0 = opts.rotation;
  let key: Buffer | null = null;
  const fail = (seq: number, problem: string, extra: { key?: "missing" | "mismatch" | "retired"; segment?: KeySegment; pending?: true } = {}): ChainVerdict => {
    const segment = extra.segment ?? segments.at(-1);
    return { ok: false, rows: count, seq, problem: segment ? `${problem} [segment from row ${segment.from}, audit key ${segment.keyId}]` : problem, ...extra, ...(segment ? { segment } : {}) };
  };
  for (const row of rows) {
    count++;
    if (row.seq !== expectedSeq) return fail(row.seq, `expected row ${expectedSeq} but found row ${row.seq} (a row was deleted or reordered)`);
    if (row.prevHash !== prev) return fail(row.seq, "prev_hash does not match the previous row's hash (a row before it was changed, removed or reordered)");
    if (key === null && row.action === KEYED_ACTION) {
      const logKey = typeof row.detail.keyId === "string" ? row.detail.keyId : "?";
      const segment = { from: row.seq, keyId: logKey };
      if (!ring) return fail(row.seq, `the log is keyed from row ${row.seq} (audit key ${logKey}) but no audit key is configured: set GATEHOUSE_AUDIT_KEY`, { key: "missing", segment });
      const found = ring.byId.get(logKey);
      if (!found) return fail(row.seq, `the log is keyed from row ${row.seq} with audit key ${logKey}, not with this process's key ${ring.currentId}`, { key: "mismatch", segment });
      key = found;
      segments.push(segment);
    } else if (row.action === ROTATED_ACTION) {
      // its own link is under the key it rotates from, checked below with the rest of that segment
      if (key === null) return fail(row.seq, `a key rotation at row ${row.seq}, before the log was keyed: the row was forged`);
      if (row.detail.fromKeyId !== segments.at(-1)!.keyId) return fail(row.seq, `the key rotation at row ${row.seq} says it rotates from audit key ${String(row.detail.fromKeyId)}: the row was forged or edited`);
    }
    const actual = key === null ? hashAuditRow(prev, row) : macAuditRow(key, prev, row);
    if (actual !== row.hash) return fail(row.seq, key === null ? "row content does not match its hash (the row was edited)" : "row content does not match its keyed hash (the row was edited, or its link recomputed without the audit key)");
    if (key !== null && row.action === ROTATED_ACTION) {
      const next = { from: row.seq + 1, keyId: String(row.detail.toKeyId) };
      const found = ring!.byId.get(next.keyId);
      if (!found) return fail(row.seq, `rows after the key rotation at row ${row.seq} are keyed with audit key ${next.keyId}, which this process does not have: ${RETIRED_HINT}`, { key: "missing", segment: next });
      // one seen where it is (opts.rotation) may predate countersigning: the place it was seen at vouches for it
      const seenThere = r0 !== undefined && r0.from === next.from && r0.keyId === next.keyId;
      if (!seenThere && !countersigned(found, row)) {
        return fail(row.seq, `the key rotation at row ${row.seq} is not countersigned by audit key ${next.keyId}, the key it rotates to: it was written by someone holding only the retired key (the rows before it may have been relinked under that key)`);
      }
      key = found;
      segments.push(next);
    }
    prev = row.hash;
    if (row.hash === opts.head) headSeen = true;
    expectedSeq++;
  }
  if (!headSeen) return fail(count, `the earlier head ${opts.head} is not in the log: rows after it were removed, or the log was rewritten`);
  if (ring && key === null) return fail(count, "an audit key is configured but no row of the log is keyed: the log was rewritten (or written) without the key");
  const r = opts.rotation;
  if (r && !segments.some((s) => s.from === r.from && s.keyId === r.keyId)) {
    return fail(count, `the key rotation to audit key ${r.keyId} at row ${r.from - 1}, seen earlier, is not in the log: it was moved or removed, and the rows after it rewritten under the retired key`);
  }
  const last = segments.at(-1);
  if (ring && last && last.keyId !== ring.currentId) {
    // Pending: the log never was under this process's key, so the rotation to it is still to be
    // done. A log that was under it and is under another key now was rotated away and back.
    if (segments.some((s) => s.keyId === ring.currentId)) {
      return fail(count, `the log's newest rows (from row ${last.from}) are keyed with audit key ${last.keyId}, which this process holds as retired, though the log was keyed with this process's key ${ring.currentId} before: the rotation to it was cut off and the log continued under a retired key`, { key: "retired" });
    }
    return fail(
      count,
      `the key rotation is pending: every link verifies, but the log's newest rows (from row ${last.from}) are keyed with audit key ${last.keyId}, which this process holds as retired, not yet with its key ${ring.currentId}: run \`gatehouse audit rotate-key\` to finish the rotation. ` +
        "If a rotation to it was done, its rows were cut off and the log continued under the retired key: `audit verify --head` with the head rotate-key printed shows that",
      { key: "retired", pending: true },
    );
  }
  return { ok: true, rows: count, head: prev, ...(last ? { keyedFrom: segments[0].from, segments } : {}) };
}
