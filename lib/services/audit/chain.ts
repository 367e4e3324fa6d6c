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

export type ChainVerdict =
  | { ok: true; rows: number; head: string; keyedFrom?: number }
  | { ok: false; rows: number; seq: number; problem: string; key?: "missing" | "mismatch" };

/**
 * Walks rows in seq order. A deleted row shows as a seq gap or a prev-hash mismatch, an edited
 * row as a hash mismatch, a reordered pair as both; the first broken row is named. Rows before the
 * KEYED_ACTION row are checked as plain hashes (logs written before the switch), the rest as HMACs
 * under `key`; with a key, a log without that row was rewritten by someone without the key.
 *
 * `head`: a head reported by an earlier verification. The log only grows, so it must still be in
 * it; if not, its newest rows were cut off (which no link can show) or it was rewritten.
 */
export function verifyChain(rows: Iterable<AuditRow>, key: Buffer | null = null, opts: { head?: string } = {}): ChainVerdict {
  let headSeen = opts.head === undefined;
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  let keyedFrom: number | null = null;
  for (const row of rows) {
    count++;
    if (row.seq !== expectedSeq) return { ok: false, rows: count, seq: row.seq, problem: `expected row ${expectedSeq} but found row ${row.seq} (a row was deleted or reordered)` };
    if (row.prevHash !== prev) return { ok: false, rows: count, seq: row.seq, problem: "prev_hash does not match the previous row's hash (a row before it was changed, removed or reordered)" };
    if (keyedFrom === null && row.action === KEYED_ACTION) {
      const logKey = typeof row.detail.keyId === "string" ? row.detail.keyId : "?";
      if (!key) return { ok: false, rows: count, seq: row.seq, key: "missing", problem: `the log is keyed from row ${row.seq} (audit key ${logKey}) but no audit key is configured: set GATEHOUSE_AUDIT_KEY` };
      if (logKey !== auditKeyId(key)) return { ok: false, rows: count, seq: row.seq, key: "mismatch", problem: `the log is keyed from row ${row.seq} with audit key ${logKey}, not with this process's key ${auditKeyId(key)}` };
      keyedFrom = row.seq;
    }
    const actual = keyedFrom === null ? hashAuditRow(prev, row) : macAuditRow(key!, prev, row);
    if (actual !== row.hash) return { ok: false, rows: count, seq: row.seq, problem: keyedFrom === null ? "row content does not match its hash (the row was edited)" : "row content does not match its keyed hash (the row was edited, or its link recomputed without the audit key)" };
    prev = row.hash;
    if (row.hash === opts.head) headSeen = true;
    expectedSeq++;
  }
  if (!headSeen) return { ok: false, rows: count, seq: count, problem: `the earlier head ${opts.head} is not in the log: rows after it were removed, or the log was rewritten` };
  if (key && keyedFrom === null) return { ok: false, rows: count, seq: count, problem: "an audit key is configured but no row of the log is keyed: the log was rewritten (or written) without the key" };
  return { ok: true, rows: count, head: prev, ...(keyedFrom === null ? {} : { keyedFrom }) };
}
