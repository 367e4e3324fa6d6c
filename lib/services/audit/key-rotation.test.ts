import { describe, expect, it } from "vitest";
import { auditKeyId, GENESIS_HASH, KEYED_ACTION, keyRing, macAuditRow, ROTATED_ACTION, rotationCountersign, verifyChain, type AuditRow } from "./chain";
import { AuditKeyMismatch, keyHistory, segmentAt } from "./key-history";

const OLD = Buffer.alloc(32, 1);
const NEW = Buffer.alloc(32, 2);
const THIRD = Buffer.alloc(32, 3);
const id = auditKeyId;

type Body = Omit<AuditRow, "hash" | "prevHash">;
const body = (seq: number, action = `act.${seq}`, detail: Record<string, unknown> = { n: seq }): Body => ({ seq, at: new Date(1_700_000_000_000 + seq * 1000), actorId: "u1", actorEmail: "a@x", action, subject: `s:${seq}`, detail });
const rotation = (seq: number, from: Buffer, to: Buffer) => body(seq, ROTATED_ACTION, { fromKeyId: id(from), toKeyId: id(to), scheme: "hmac-sha256" });

/**
 * Relinks rows from index `from` on as appendAudit writes them, each under the key `keyOf` says; a
 * rotation is countersigned by the key it names, if the writer holds it (`held`: every test key).
 */
function relink(rows: Body[], keyOf: (seq: number) => Buffer, from = 0, before: AuditRow[] = [], held: Buffer[] = [OLD, NEW, THIRD]): AuditRow[] {
  const out = before.slice(0, from);
  let prev = from > 0 ? out[from - 1].hash : GENESIS_HASH;
  for (const row of rows.slice(from)) {
    const to = row.action === ROTATED_ACTION ? held.find((k) => id(k) === row.detail.toKeyId) : undefined;
    const b = to ? { ...row, detail: { ...row.detail, countersign: rotationCountersign(to, { seq: row.seq, prevHash: prev, fromKeyId: String(row.detail.fromKeyId), toKeyId: String(row.detail.toKeyId) }) } } : row;
    const hash = macAuditRow(keyOf(b.seq), prev, b);
    out.push({ ...b, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

/** Keyed at row 1 with OLD, rows 2-4, rotated to NEW at row 5 (keyed with OLD), rows 6-8 under NEW. */
const bodies = [body(1, KEYED_ACTION, { keyId: id(OLD), scheme: "hmac-sha256" }), body(2), body(3), body(4), rotation(5, OLD, NEW), body(6), body(7), body(8)];
const honestKey = (seq: number) => (seq <= 5 ? OLD : NEW);
const log = () => relink(bodies, honestKey);

describe("audit key rotation: verify", () => {
  it("verifies across the rotation with the new key and the retired one, naming each segment", () => {
    const rows = log();
    expect(verifyChain(rows, keyRing(NEW, [OLD]))).toEqual({ ok: true, rows: 8, head: rows[7].hash, keyedFrom: 1, segments: [{ from: 1, keyId: id(OLD) }, { from: 6, keyId: id(NEW) }] });
  });

  it("without the retired key the old segment cannot be checked: NOT VERIFIED, naming the key", () => {
    expect(verifyChain(log(), keyRing(NEW))).toMatchObject({ ok: false, seq: 1, key: "mismatch", segment: { from: 1, keyId: id(OLD) } });
  });

  it("a process left on the old key cannot check the new segment: NOT VERIFIED at the rotation, naming the new key", () => {
    expect(verifyChain(log(), keyRing(OLD))).toMatchObject({ ok: false, seq: 5, key: "missing", segment: { from: 6, keyId: id(NEW) }, problem: expect.stringContaining("GATEHOUSE_AUDIT_KEYS_RETIRED") });
  });

  it("an edit before the rotation is found in the old segment, one after it in the new", () => {
    const before = log().map((r) => (r.seq === 3 ? { ...r, actorEmail: "x@y" } : r));
    expect(verifyChain(before, keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 3, segment: { from: 1, keyId: id(OLD) }, problem: expect.stringContaining(`segment from row 1, audit key ${id(OLD)}`) });
    const after = log().map((r) => (r.seq === 7 ? { ...r, actorEmail: "x@y" } : r));
    expect(verifyChain(after, keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 7, segment: { from: 6, keyId: id(NEW) }, problem: expect.stringContaining(`segment from row 6, audit key ${id(NEW)}`) });
  });

  it("someone holding only the new key cannot rewrite rows before the rotation, nor the rotation itself", () => {
    const edited = bodies.map((b) => (b.seq === 3 ? { ...b, actorEmail: "x@y" } : b));
    // every link recomputed with the one key they hold
    expect(verifyChain(relink(edited, () => NEW), keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 1 });
    // from the edited row on, under the new key
    expect(verifyChain(relink(edited, () => NEW, 2, log()), keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 3, segment: { from: 1 } });
    // the rotation moved later (more rows "under the old key"), relinked with the new key
    const moved = [...bodies.slice(0, 4), body(5), rotation(6, OLD, NEW), body(7), body(8)];
    expect(verifyChain(relink(moved, (s) => (s <= 4 ? OLD : NEW), 4, log()), keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 5, segment: { from: 1 } });
  });

  it("someone holding the leaked old key cannot rewrite rows after the rotation, nor drop the rotation unnoticed", () => {
    const edited = bodies.map((b) => (b.seq === 7 ? { ...b, actorEmail: "x@y" } : b));
    expect(verifyChain(relink(edited, () => OLD, 6, log()), keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 7, segment: { from: 6, keyId: id(NEW) } });
    // the rotation row made to say the log goes on under the old key
    const back = bodies.map((b) => (b.seq === 5 ? rotation(5, OLD, OLD) : b));
    expect(verifyChain(relink(back, () => OLD, 4, log()), keyRing(NEW, [OLD]))).toMatchObject({ ok: false });
    // the log cut at the rotation and continued under the old key: verifies link by link, but not as this process's key
    const cut = relink([...bodies.slice(0, 4), body(5), body(6)], () => OLD);
    expect(verifyChain(cut, keyRing(NEW, [OLD]))).toMatchObject({ ok: false, key: "retired", segment: { from: 1, keyId: id(OLD) }, problem: expect.stringContaining("rotate-key") });
  });

  it("the rows after the rotation relinked under the old key and the rotation forged again later: not countersigned by the new key; the rotation seen earlier, or its head, shows it too", () => {
    const real = log();
    const moved = [...bodies.slice(0, 4), body(5), body(6), rotation(7, OLD, NEW), body(8)];
    // written by someone holding the old key only (row 8: a process with the new key, after it)
    const forged = relink(moved, (s) => (s <= 7 ? OLD : NEW), 0, [], [OLD]);
    expect(verifyChain(forged, keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 7, problem: expect.stringContaining("not countersigned") });
    expect(verifyChain(forged, keyRing(NEW, [OLD]), { rotation: { from: 6, keyId: id(NEW) } })).toMatchObject({ ok: false });
    // were it countersigned (the new key leaked too), where the rotation was seen still shows it
    const both = relink(moved, (s) => (s <= 7 ? OLD : NEW));
    expect(verifyChain(both, keyRing(NEW, [OLD]))).toMatchObject({ ok: true });
    expect(verifyChain(both, keyRing(NEW, [OLD]), { rotation: { from: 6, keyId: id(NEW) } })).toMatchObject({ ok: false, problem: expect.stringContaining("at row 5, seen earlier, is not in the log") });
    expect(verifyChain(forged, keyRing(NEW, [OLD]), { head: real[4].hash })).toMatchObject({ ok: false });
    expect(verifyChain(real, keyRing(NEW, [OLD]), { head: real[4].hash, rotation: { from: 6, keyId: id(NEW) } })).toMatchObject({ ok: true });
  });

  it("a rotation row that does not start from the log's key, or one before the log was keyed, is forged", () => {
    const wrongFrom = bodies.map((b) => (b.seq === 5 ? rotation(5, THIRD, NEW) : b));
    expect(verifyChain(relink(wrongFrom, honestKey), keyRing(NEW, [OLD, THIRD]))).toMatchObject({ ok: false, seq: 5, problem: expect.stringContaining("forged") });
    expect(verifyChain(relink([rotation(1, OLD, NEW), body(2)], () => NEW), keyRing(NEW, [OLD]))).toMatchObject({ ok: false, seq: 1, problem: expect.stringContaining("before the log was keyed") });
  });

  it("two rotations: three segments, each with its own key", () => {
    const more = [...bodies, rotation(9, NEW, THIRD), body(10)];
    const rows = relink(more, (s) => (s <= 5 ? OLD : s <= 9 ? NEW : THIRD));
    expect(verifyChain(rows, keyRing(THIRD, [OLD, NEW]))).toMatchObject({ ok: true, rows: 10, segments: [{ from: 1 }, { from: 6 }, { from: 10, keyId: id(THIRD) }] });
  });
});

describe("audit key rotation: the history appends read", () => {
  const keyRows = (b: Body[]) => b.filter((r) => r.action === KEYED_ACTION || r.action === ROTATED_ACTION);

  it("gives the segments, the key in force and which key was retired where", () => {
    const h = keyHistory(keyRows(bodies))!;
    expect(h.segments).toEqual([{ from: 1, keyId: id(OLD) }, { from: 6, keyId: id(NEW) }]);
    expect([...h.retiredAt]).toEqual([[id(OLD), 5]]);
    expect(segmentAt(h, 5)).toEqual({ from: 1, keyId: id(OLD) });
    expect(segmentAt(h, 6)).toEqual({ from: 6, keyId: id(NEW) });
    expect(keyHistory([])).toBeNull();
  });

  it("refuses a history that returns to a retired key, rotates from another key, or rotates before being keyed", () => {
    expect(() => keyHistory(keyRows([...bodies, rotation(9, NEW, OLD)]))).toThrow(AuditKeyMismatch);
    expect(() => keyHistory(keyRows([...bodies, rotation(9, OLD, THIRD)]))).toThrow(/does not follow from its key/);
    expect(() => keyHistory([rotation(1, OLD, NEW)])).toThrow(/before it was keyed/);
  });
});
