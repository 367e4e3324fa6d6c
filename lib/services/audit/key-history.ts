import { countersigned, KEYED_ACTION, ROTATED_ACTION, type KeyRing, type KeySegment } from "./chain";

/** A keyed log written with another key: a process configured apart from the others, a lost or retired key. */
export class AuditKeyMismatch extends Error {}

/** The rows that say which key the log is under: its switch to keyed links and its rotations. */
export interface KeyRow {
  seq: number;
  action: string;
  detail: Record<string, unknown>;
  /** for a rotation's countersignature (checkCountersigns) */
  prevHash?: string;
}

export interface KeyHistory {
  keyedFrom: number;
  /** in seq order; the last is the key new rows are written with */
  segments: KeySegment[];
  /** key id → the row that rotated the log away from it */
  retiredAt: ReadonlyMap<string, number>;
}

/**
 * The key rows (in seq order) read as the log's key history; null for a log never keyed.
 * Appends read it on every write, without walking the log, so it is checked as far as the rows
 * alone allow: a rotation must start from the key the log is under, and never return to a key
 * the log left (what someone holding a leaked retired key would forge, to have rows written
 * under it again). Their links are checked by `audit verify`.
 */
export function keyHistory(rows: KeyRow[]): KeyHistory | null {
  const segments: KeySegment[] = [];
  const retiredAt = new Map<string, number>();
  for (const row of rows) {
    if (segments.length === 0) {
      if (row.action !== KEYED_ACTION) throw new AuditKeyMismatch(`the audit log has a key rotation at row ${row.seq} before it was keyed: the row was forged. Run \`gatehouse audit verify\`; nothing more is written to this log`);
      segments.push({ from: row.seq, keyId: String(row.detail.keyId) });
      continue;
    }
    if (row.action !== ROTATED_ACTION) continue; // a second switch row changes nothing (verify treats it as a plain row)
    const current = segments.at(-1)!.keyId;
    const to = String(row.detail.toKeyId);
    if (row.detail.fromKeyId !== current || to === current || retiredAt.has(to)) {
      throw new AuditKeyMismatch(`the audit log's key rotation at row ${row.seq} (from ${String(row.detail.fromKeyId)} to ${to}) does not follow from its key ${current}: it was forged. Run \`gatehouse audit verify\`; nothing more is written to this log`);
    }
    retiredAt.set(current, row.seq);
    segments.push({ from: row.seq + 1, keyId: to });
  }
  return segments.length ? { keyedFrom: segments[0].from, segments, retiredAt } : null;
}

/**
 * Every rotation to a key `ring` holds carries that key's countersignature (chain.ts): a rotation
 * written with only the retired key is not followed, lest rows written after it under the new key
 * bless it. Checked on every append, with the key rows it reads anyway. `seen`: the newest rotation
 * this process saw (append.ts), taken as genuine where it saw it, countersigned or not: rotations
 * written before they were countersigned go on being followed by the processes that saw them.
 */
export function checkCountersigns(rows: KeyRow[], ring: KeyRing, seen?: KeySegment): void {
  for (const row of rows) {
    if (row.action !== ROTATED_ACTION || seenHere(seen, row.seq, row.detail.toKeyId)) continue;
    const key = ring.byId.get(String(row.detail.toKeyId));
    if (key && !countersigned(key, { seq: row.seq, prevHash: row.prevHash ?? "", detail: row.detail })) {
      throw new AuditKeyMismatch(
        `the audit log's key rotation at row ${row.seq} (to ${String(row.detail.toKeyId)}) is not countersigned by the key it rotates to: it was forged by someone holding only the retired key. Run \`gatehouse audit verify\`; nothing more is written to this log`,
      );
    }
  }
}

/** Whether `seen` is the rotation at row `seq` to `toKeyId`. */
export const seenHere = (seen: KeySegment | undefined, seq: number, toKeyId: unknown): boolean => seen !== undefined && seen.from === seq + 1 && seen.keyId === toKeyId;

/** The segment row `seq` is in (null: before the log was keyed). */
export function segmentAt(history: KeyHistory | null, seq: number): KeySegment | null {
  return history?.segments.findLast((s) => s.from <= seq) ?? null;
}

/** The seq of the newest rotation, if any. */
export function lastRotation(history: KeyHistory): number | undefined {
  return history.segments.length > 1 ? history.segments.at(-1)!.from - 1 : undefined;
}
