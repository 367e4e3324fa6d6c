import { describe, expect, it } from "vitest";
import { auditKeyId, GENESIS_HASH, hashAuditRow, KEYED_ACTION, macAuditRow, verifyChain, type AuditRow } from "./chain";

const KEY = Buffer.alloc(32, 7);
const OTHER = Buffer.alloc(32, 8);

type Body = Omit<AuditRow, "hash" | "prevHash">;
const body = (seq: number, action = `act.${seq}`, detail: Record<string, unknown> = { n: seq }): Body => ({ seq, at: new Date(1_700_000_000_000 + seq * 1000), actorId: "u1", actorEmail: "a@x", action, subject: `s:${seq}`, detail });

/** `unkeyed` plain rows, then the switch row and `keyed` rows under `key` (as appendAudit writes them). */
function buildLog(unkeyed: number, keyed: number, key = KEY): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = GENESIS_HASH;
  const push = (b: Body, link: (prev: string, b: Body) => string) => {
    const hash = link(prev, b);
    rows.push({ ...b, prevHash: prev, hash });
    prev = hash;
  };
  for (let i = 1; i <= unkeyed; i++) push(body(i), hashAuditRow);
  const mac = (p: string, b: Body) => macAuditRow(key, p, b);
  push(body(unkeyed + 1, KEYED_ACTION, { keyId: auditKeyId(key), scheme: "hmac-sha256" }), mac);
  for (let i = unkeyed + 2; i <= unkeyed + 1 + keyed; i++) push(body(i), mac);
  return rows;
}

/** What someone with write access to the database can do: edit a row, then relink everything after it without the key. */
function recomputeUnkeyed(rows: AuditRow[], from: number): AuditRow[] {
  const out = rows.slice(0, from - 1);
  let prev = from > 1 ? out[from - 2].hash : GENESIS_HASH;
  for (const r of rows.slice(from - 1)) {
    const hash = hashAuditRow(prev, r);
    out.push({ ...r, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

describe("keyed audit chain", () => {
  it("verifies a log keyed after older unkeyed rows, saying where the keyed part starts", () => {
    const rows = buildLog(3, 4);
    expect(verifyChain(rows, KEY)).toEqual({ ok: true, rows: 8, head: rows[7].hash, keyedFrom: 4, segments: [{ from: 4, keyId: auditKeyId(KEY) }] });
  });

  it("an edited keyed row relinked without the key fails", () => {
    const rows = buildLog(2, 5);
    rows[4] = { ...rows[4], subject: "rewritten" };
    const forged = recomputeUnkeyed(rows, 5);
    expect(verifyChain(forged, KEY)).toMatchObject({ ok: false, seq: 5, problem: expect.stringContaining("without the audit key") });
  });

  it("an edited row before the switch, the whole log relinked unkeyed, fails at the switch", () => {
    const rows = buildLog(3, 2);
    rows[1] = { ...rows[1], detail: { n: 99 } };
    expect(verifyChain(recomputeUnkeyed(rows, 2), KEY)).toMatchObject({ ok: false, seq: 4 });
  });

  it("the whole log rewritten unkeyed without its switch row fails while a key is configured", () => {
    const rows = buildLog(3, 3).filter((r) => r.action !== KEYED_ACTION).map((r, i) => ({ ...r, seq: i + 1 }));
    const forged = recomputeUnkeyed(rows, 1);
    expect(verifyChain(forged)).toMatchObject({ ok: true }); // what the unkeyed check alone would say
    expect(verifyChain(forged, KEY)).toMatchObject({ ok: false, problem: expect.stringContaining("no row of the log is keyed") });
  });

  it("a switch row renamed so it reads as unkeyed fails", () => {
    const rows = buildLog(2, 2);
    rows[2] = { ...rows[2], action: "audit.note" };
    expect(verifyChain(recomputeUnkeyed(rows, 3), KEY)).toMatchObject({ ok: false });
  });

  it("a log re-keyed under a key of the forger's own is named as keyed with another key", () => {
    const forged = buildLog(2, 2, OTHER);
    expect(verifyChain(forged, KEY)).toMatchObject({ ok: false, seq: 3, key: "mismatch" });
  });

  it("without a key, a keyed log is not verified: it says the key is missing", () => {
    expect(verifyChain(buildLog(1, 1), null)).toMatchObject({ ok: false, seq: 2, key: "missing", problem: expect.stringContaining("GATEHOUSE_AUDIT_KEY") });
  });

  it("the key id names the key without being the key's hash or the key", () => {
    expect(auditKeyId(KEY)).toMatch(/^[0-9a-f]{16}$/);
    expect(auditKeyId(KEY)).not.toBe(auditKeyId(OTHER));
    expect(KEY.toString("hex")).not.toContain(auditKeyId(KEY));
  });

  it("a head from an earlier verification must still be in the log: the newest rows cut off show", () => {
    const rows = buildLog(2, 6);
    const earlier = rows[5].hash;
    expect(verifyChain(rows, KEY, { head: earlier })).toMatchObject({ ok: true });
    const cut = rows.slice(0, 4);
    expect(verifyChain(cut, KEY)).toMatchObject({ ok: true }); // what links alone can tell
    expect(verifyChain(cut, KEY, { head: earlier })).toMatchObject({ ok: false, problem: expect.stringContaining(`earlier head ${earlier} is not in the log`) });
  });
});
