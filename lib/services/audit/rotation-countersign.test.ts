import { describe, expect, it } from "vitest";
import { auditKeyId, GENESIS_HASH, KEYED_ACTION, keyRing, macAuditRow, ROTATED_ACTION, rotationCountersign, verifyChain, type AuditRow } from "./chain";
import { AuditKeyMismatch, checkCountersigns } from "./key-history";

const OLD = Buffer.alloc(32, 1);
const NEW = Buffer.alloc(32, 2);
const THIRD = Buffer.alloc(32, 3);
const id = auditKeyId;

type Body = Omit<AuditRow, "hash" | "prevHash">;
const body = (seq: number, action = `act.${seq}`, detail: Record<string, unknown> = { n: seq }): Body => ({ seq, at: new Date(1_700_000_000_000 + seq * 1000), actorId: null, actorEmail: "system", action, subject: `s:${seq}`, detail });

/** Rows linked under `keyOf(seq)`; a rotation row's countersignature computed with `countersignWith` (if any; a function: by the key it names). */
function link(bodies: Body[], keyOf: (seq: number) => Buffer, signer: Buffer | null | ((toKeyId: string) => Buffer)): AuditRow[] {
  let prev = GENESIS_HASH;
  return bodies.map((b) => {
    let row = b;
    const countersignWith = typeof signer === "function" ? signer(String(b.detail.toKeyId)) : signer;
    if (b.action === ROTATED_ACTION && countersignWith) {
      row = { ...b, detail: { ...b.detail, countersign: rotationCountersign(countersignWith, { seq: b.seq, prevHash: prev, fromKeyId: String(b.detail.fromKeyId), toKeyId: String(b.detail.toKeyId) }) } };
    }
    const hash = macAuditRow(keyOf(row.seq), prev, row);
    const out = { ...row, prevHash: prev, hash };
    prev = hash;
    return out;
  });
}

const keyed = body(1, KEYED_ACTION, { keyId: id(OLD), scheme: "hmac-sha256" });
const rotation = (seq: number, to = NEW) => body(seq, ROTATED_ACTION, { fromKeyId: id(OLD), toKeyId: id(to), scheme: "hmac-sha256" });
const keyRowsOf = (rows: AuditRow[]) => rows.filter((r) => r.action === KEYED_ACTION || r.action === ROTATED_ACTION);

describe("a rotation row is countersigned by the key it rotates to", () => {
  const bodies = [keyed, body(2), body(3), rotation(4), body(5)];
  const keyOf = (s: number) => (s <= 4 ? OLD : NEW);

  it("an honest rotation verifies and is followed by appends", () => {
    const rows = link(bodies, keyOf, NEW);
    expect(verifyChain(rows, keyRing(NEW, [OLD]))).toMatchObject({ ok: true, rows: 5 });
    expect(() => checkCountersigns(keyRowsOf(rows), keyRing(NEW, [OLD]))).not.toThrow();
  });

  it("a rotation written with the retired key alone (no countersignature, or one by another key) fails verify and stops appends, with no head and nothing seen", () => {
    for (const signer of [null, OLD, THIRD]) {
      const rows = link(bodies, keyOf, signer);
      expect(verifyChain(rows, keyRing(NEW, [OLD])), String(signer && id(signer))).toMatchObject({ ok: false, seq: 4, problem: expect.stringContaining(`not countersigned by audit key ${id(NEW)}`) });
      expect(() => checkCountersigns(keyRowsOf(rows), keyRing(NEW, [OLD]))).toThrow(AuditKeyMismatch);
    }
  });

  it("a rotation written before rotations were countersigned is followed, and verifies, where this process saw it; anywhere else it is not", () => {
    const legacy = link(bodies, keyOf, null);
    const seen = { from: 5, keyId: id(NEW) };
    expect(verifyChain(legacy, keyRing(NEW, [OLD]), { rotation: seen })).toMatchObject({ ok: true, rows: 5 });
    expect(() => checkCountersigns(keyRowsOf(legacy), keyRing(NEW, [OLD]), seen)).not.toThrow();
    // seen one row later (so not this one): refused
    expect(verifyChain(legacy, keyRing(NEW, [OLD]), { rotation: { from: 6, keyId: id(NEW) } })).toMatchObject({ ok: false });
    expect(() => checkCountersigns(keyRowsOf(legacy), keyRing(NEW, [OLD]), { from: 6, keyId: id(NEW) })).toThrow(AuditKeyMismatch);
  });

  it("a countersignature taken from the honest rotation does not fit the rotation moved elsewhere", () => {
    const honest = link(bodies, keyOf, NEW);
    const countersign = honest[3].detail.countersign;
    // the rows after the rotation relinked under the old key, the rotation (with its countersignature) put one row later
    const moved = [keyed, body(2), body(3), body(4), { ...rotation(5), detail: { ...rotation(5).detail, countersign } }, body(6)];
    const forged = link(moved, (s) => (s <= 5 ? OLD : NEW), null);
    expect(verifyChain(forged, keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 5, problem: expect.stringContaining("not countersigned") });
  });
});

describe("verify tells a pending rotation from a failed one", () => {
  it("the log under a key this process holds as retired, never under its own key: pending, links intact", () => {
    const rows = link([keyed, body(2), body(3)], () => OLD, null);
    const v = verifyChain(rows, keyRing(NEW, [OLD]));
    expect(v).toMatchObject({ ok: false, key: "retired", pending: true, problem: expect.stringContaining("rotation is pending: every link verifies") });
  });

  it("a log that was under this process's key and is back under a retired one is not pending", () => {
    // rotated OLD → NEW → THIRD, verified by a process whose key is NEW and that holds THIRD as
    // retired: the log left this process's key for a retired one, a failure, never "pending"
    const bodies = [keyed, body(2), rotation(3), body(4), body(5, ROTATED_ACTION, { fromKeyId: id(NEW), toKeyId: id(THIRD), scheme: "hmac-sha256" }), body(6)];
    const byId = (kid: string) => [NEW, THIRD].find((k) => id(k) === kid)!;
    const relinked = link(bodies, (s) => (s <= 3 ? OLD : s <= 5 ? NEW : THIRD), byId);
    const v = verifyChain(relinked, keyRing(NEW, [OLD, THIRD]));
    expect(v).toMatchObject({ ok: false, key: "retired" });
    expect((v as { pending?: true }).pending).toBeUndefined();
  });
});
