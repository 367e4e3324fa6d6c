import { z } from "zod";
import type { Db } from "@/db/client";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { loadConfig } from "@/lib/config/env";
import { GatehouseError } from "@/lib/gateway/core/types";
import { mutate } from "../tx";
import { appendLocked, lockAudit, lockedLogKey, rememberKeyHistory } from "./append";
import { ROTATED_ACTION, rotationCountersign } from "./chain";
import { auditKeyRing } from "./key";

const Input = z.object({ reason: z.string().trim().max(500).optional() }).strict();

/**
 * Rotates the audit key: from the log's current key to this process's GATEHOUSE_AUDIT_KEY. The
 * new key never leaves the processes: every one is first restarted with it as GATEHOUSE_AUDIT_KEY
 * and the old one in GATEHOUSE_AUDIT_KEYS_RETIRED (they keep writing under the old key until the
 * rotation), then this appends one row, keyed with the OLD key, that names the new key's id and is
 * countersigned with the new key. From
 * the next row on every process writes under the new key; a process still on the old key refuses
 * to write (append.ts). The row itself is the audit record of the rotation.
 */
export async function rotateAuditKey(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "audit:rotate");
  const { reason } = Input.parse(input ?? {});
  const ring = auditKeyRing();
  const done = await mutate(db, async (tx) => {
    await lockAudit(tx);
    const { key, history } = await lockedLogKey(tx, ring);
    const fromKeyId = history.segments.at(-1)!.keyId;
    if (fromKeyId === ring.currentId) {
      throw new GatehouseError(
        "CONFLICT",
        `the audit log is already keyed with this process's key ${ring.currentId}: to rotate, give every process the new key as GATEHOUSE_AUDIT_KEY ` +
          "and the old one in GATEHOUSE_AUDIT_KEYS_RETIRED (`master` if it was derived from the master key), restart them, then rotate",
      );
    }
    const toKeyId = ring.currentId;
    // countersigned with the new key (chain.ts): the retired key alone cannot write a rotation to it
    const { seq, hash } = await appendLocked(tx, key, who, (place) => ({
      action: ROTATED_ACTION,
      subject: "audit_log",
      detail: { fromKeyId, toKeyId, scheme: "hmac-sha256", countersign: rotationCountersign(ring.current, { ...place, fromKeyId, toKeyId }), ...(reason ? { reason } : {}) },
    }));
    const after = { ...history, segments: [...history.segments, { from: seq + 1, keyId: ring.currentId }], retiredAt: new Map([...history.retiredAt, [fromKeyId, seq]]) };
    return { seq, hash, fromKeyId, toKeyId: ring.currentId, after };
  });
  rememberKeyHistory(loadConfig().dataDir, done.after);
  // `head`: kept apart from the database, `audit verify --head` proves the rotation still stands where it was
  return { rotatedAt: done.seq, fromKeyId: done.fromKeyId, toKeyId: done.toKeyId, head: done.hash };
}
