import type { Db } from "@/db/client";
import { auditKeyRows, firstAuditRowFor } from "@/db/queries/audit";
import { walkStoredEvents } from "@/db/queries/sessions";
import { checkRecording, RecordingDigest, type RecordingSeal } from "@/lib/gateway/recorder/recording-digest";
import { GatehouseError } from "@/lib/gateway/core/types";
import { loggable } from "@/lib/util/loggable";
import { appendAudit, checkSeen } from "../audit/append";
import { macAuditRow } from "../audit/chain";
import { auditKeyRing } from "../audit/key";
import { keyHistory, segmentAt } from "../audit/key-history";
import { mutate } from "../tx";

export const SEALED_ACTION = "session.sealed";
const subjectOf = (id: string) => `session:${id}`;

/**
 * Seals an ended session's recording: its digest (recording-digest.ts) goes into the keyed audit
 * log as `session.sealed`. From then on an edit, removal or addition of an event by someone who
 * can write to the database (but has not the audit key, so cannot rewrite the seal) shows in
 * `gatehouse sessions verify`.
 *
 * The process that recorded the session seals the chain it computed as it stored each event
 * (`recorded`, source "recorded"): what it stored, not what the database holds at the end, so an
 * event edited, removed or slipped in while the session was live differs from the seal too. A
 * session whose process is gone (ended by the next start, after a crash, its spooled output stored
 * by that start) is sealed from its stored events read back (source "stored"): what was done to
 * them before that is not seen. Only one seal counts (the first); sealing again does nothing.
 */
export async function sealSession(db: Db, id: string, why: Record<string, unknown> = {}, recorded?: RecordingDigest): Promise<RecordingSeal | null> {
  if (await firstAuditRowFor(db, SEALED_ACTION, subjectOf(id))) return null;
  const t0 = performance.now();
  let digest = recorded;
  if (!digest) {
    digest = new RecordingDigest();
    for await (const e of walkStoredEvents(db, id)) digest.add(e);
  }
  const seal = digest.seal();
  await mutate(db, (tx) => appendAudit(tx, null, { action: SEALED_ACTION, subject: subjectOf(id), detail: { ...seal, source: recorded ? "recorded" : "stored", ...why } }));
  const ms = performance.now() - t0;
  if (ms > 1_000) console.log(`[recorder] session ${id}: ${seal.events} events sealed in ${Math.round(ms)} ms`);
  return seal;
}

/** Seals and logs a failure: the session's end never waits for or fails on its seal. */
export async function sealQuietly(db: Db, id: string, why: Record<string, unknown> = {}, recorded?: RecordingDigest): Promise<void> {
  try {
    await sealSession(db, id, why, recorded);
  } catch (err) {
    console.error(`[recorder] session ${id}: its recording could not be sealed:`, loggable(err));
  }
}

export type SessionVerification =
  | { state: "intact"; events: number; sealedAt: string; auditSeq: number }
  | { state: "tampered"; events: number; sealedAt: string | null; auditSeq: number; problem: string; afterSeq: number | null; upToSeq: number | null }
  | { state: "unsealed"; reason: string };

/**
 * Recomputes the recording's digest and compares it with its seal. The seal row's own keyed link
 * is checked too (a seal edited in place to match an edited recording fails it), under the key of
 * its segment of the log (sealed before a key rotation: a retired key); a seal row deleted from
 * the log shows in `gatehouse audit verify` as a gap, not here.
 */
export async function verifySession(db: Db, session: { id: string; status: string }): Promise<SessionVerification> {
  const row = await firstAuditRowFor(db, SEALED_ACTION, subjectOf(session.id));
  if (!row) {
    return { state: "unsealed", reason: session.status === "live" ? "the session is live: it is sealed when it ends" : "no seal: the session ended before recordings were sealed, or its seal is still being written (or was removed from the audit log: run `gatehouse audit verify`)" };
  }
  const sealedAt = row.at.toISOString();
  if (macAuditRow(await sealKey(db, row.seq), row.prevHash, row) !== row.hash) {
    return { state: "tampered", events: 0, sealedAt: null, auditSeq: row.seq, problem: `the seal (audit row ${row.seq}) does not match its keyed hash: it was edited`, afterSeq: null, upToSeq: null };
  }
  const seal = row.detail as unknown as RecordingSeal;
  const check = await checkRecording(walkStoredEvents(db, session.id), seal);
  if (check.intact) return { state: "intact", events: check.events, sealedAt, auditSeq: row.seq };
  return { state: "tampered", events: check.events, sealedAt, auditSeq: row.seq, problem: check.problem, afterSeq: check.afterSeq, upToSeq: check.upToSeq };
}

/**
 * The key the audit row `seq` was written with; one this process lacks is no answer either way.
 * A log whose newest rotation is not where this process saw it is none either: the seal could have
 * been rewritten under the retired key (append.ts).
 */
async function sealKey(db: Db, seq: number): Promise<Buffer> {
  const history = keyHistory(await auditKeyRows(db));
  checkSeen(history);
  const segment = segmentAt(history, seq);
  const key = segment && auditKeyRing().byId.get(segment.keyId);
  if (!key) {
    throw new GatehouseError(
      "CONFLICT",
      segment
        ? `the seal (audit row ${seq}) is keyed with audit key ${segment.keyId}, which this process does not have: list it in GATEHOUSE_AUDIT_KEYS_RETIRED`
        : `the seal (audit row ${seq}) is in the part of the audit log written before it was keyed: run \`gatehouse audit verify\``,
    );
  }
  return key;
}
