import { describe, expect, it } from "vitest";
import { canonicalJson, GENESIS_HASH, hashAuditRow, verifyChain, type AuditRow } from "./chain";

function buildChain(n: number): AuditRow[] {
  const rows: AuditRow[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i++) {
    const base = { seq: i, at: new Date(1_700_000_000_000 + i * 1000), actorId: "u1", actorEmail: "a@x", action: `act.${i}`, subject: `s:${i}`, detail: { n: i, nested: { b: 1, a: 2 } } };
    const hash = hashAuditRow(prev, base);
    rows.push({ ...base, prevHash: prev, hash });
    prev = hash;
  }
  return rows;
}

describe("audit hash chain", () => {
  it("accepts an untouched chain and reports its head", () => {
    const rows = buildChain(5);
    expect(verifyChain(rows)).toEqual({ ok: true, rows: 5, head: rows[4].hash });
  });

  it("names an edited row", () => {
    const rows = buildChain(5);
    rows[2] = { ...rows[2], detail: { n: 999 } };
    expect(verifyChain(rows)).toMatchObject({ ok: false, seq: 3, problem: expect.stringContaining("edited") });
  });

  it("names the row after a deleted one", () => {
    const rows = buildChain(5);
    rows.splice(1, 1);
    expect(verifyChain(rows)).toMatchObject({ ok: false, seq: 3 });
  });

  it("detects reordering even when seq numbers are swapped back", () => {
    const rows = buildChain(4);
    const a = rows[1];
    const b = rows[2];
    rows[1] = { ...b, seq: 2 };
    rows[2] = { ...a, seq: 3 };
    const v = verifyChain(rows);
    expect(v.ok).toBe(false);
    expect(v).toMatchObject({ seq: 2 });
  });

  it("hashes are independent of key order (jsonb reorders keys)", () => {
    expect(canonicalJson({ b: 1, a: { d: 1, c: [2, { z: 1, y: 2 }] } })).toBe('{"a":{"c":[2,{"y":2,"z":1}],"d":1},"b":1}');
  });
});
