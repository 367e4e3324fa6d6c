import { afterEach, describe, expect, it } from "vitest";
import { auditKeyId } from "./chain";
import { auditKeyRing } from "./key";

const g = globalThis as { __gatehouseAuditKey?: Buffer; __gatehouseAuditKeyRing?: unknown; __gatehouseMasterKey?: Buffer };
const saved = { ...process.env };
const b64 = (fill: number, n = 32) => Buffer.alloc(n, fill).toString("base64");

function ringWith(env: Record<string, string | undefined>) {
  delete g.__gatehouseAuditKey;
  delete g.__gatehouseAuditKeyRing;
  delete g.__gatehouseMasterKey;
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return auditKeyRing();
}

describe("the audit key ring from the environment", () => {
  afterEach(() => {
    process.env = { ...saved };
    delete g.__gatehouseAuditKey;
    delete g.__gatehouseAuditKeyRing;
    delete g.__gatehouseMasterKey;
  });

  it("holds GATEHOUSE_AUDIT_KEY as current and each retired key by id; `master` is the key derived from the master key", () => {
    const derived = ringWith({ GATEHOUSE_SECRET_KEY: b64(9), GATEHOUSE_AUDIT_KEY: undefined, GATEHOUSE_AUDIT_KEYS_RETIRED: undefined }).currentId;
    const ring = ringWith({ GATEHOUSE_SECRET_KEY: b64(9), GATEHOUSE_AUDIT_KEY: b64(2), GATEHOUSE_AUDIT_KEYS_RETIRED: ` master , ${b64(1)}` });
    expect(ring.currentId).toBe(auditKeyId(Buffer.alloc(32, 2)));
    expect([...ring.byId.keys()].sort()).toEqual([derived, auditKeyId(Buffer.alloc(32, 1)), ring.currentId].sort());
    expect(ring.byId.get(derived)).not.toEqual(ring.current);
  });

  it("refuses a retired key shorter than 32 bytes rather than start without it", () => {
    expect(() => ringWith({ GATEHOUSE_SECRET_KEY: b64(9), GATEHOUSE_AUDIT_KEY: b64(2), GATEHOUSE_AUDIT_KEYS_RETIRED: b64(1, 16) })).toThrow(/each key in GATEHOUSE_AUDIT_KEYS_RETIRED must be at least 32 bytes/);
  });
});
