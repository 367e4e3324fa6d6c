import { createHash } from "node:crypto";

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

export function hashAuditRow(prevHash: string, row: Omit<AuditRow, "hash" | "prevHash">): string {
  const body = canonicalJson({
    seq: row.seq,
    at: row.at.toISOString(),
    actorId: row.actorId,
    actorEmail: row.actorEmail,
    action: row.action,
    subject: row.subject,
    detail: row.detail,
  });
  return createHash("sha256").update(prevHash).update("\n").update(body).digest("hex");
}

export type ChainVerdict =
  | { ok: true; rows: number; head: string }
  | { ok: false; rows: number; seq: number; problem: string };

/**
 * Walks rows in seq order. A deleted row shows as a seq gap or a prev-hash mismatch, an edited
 * row as a hash mismatch, a reordered pair as both; the first broken row is named.
 */
export function verifyChain(rows: Iterable<AuditRow>): ChainVerdict {
  let prev = GENESIS_HASH;
  let expectedSeq = 1;
  let count = 0;
  for (const row of rows) {
    count++;
    if (row.seq !== expectedSeq) return { ok: false, rows: count, seq: row.seq, problem: `expected row ${expectedSeq} but found row ${row.seq} (a row was deleted or reordered)` };
    if (row.prevHash !== prev) return { ok: false, rows: count, seq: row.seq, problem: "prev_hash does not match the previous row's hash (a row before it was changed, removed or reordered)" };
    const actual = hashAuditRow(prev, row);
    if (actual !== row.hash) return { ok: false, rows: count, seq: row.seq, problem: "row content does not match its hash (the row was edited)" };
    prev = row.hash;
    expectedSeq++;
  }
  return { ok: true, rows: count, head: prev };
}
