import { hkdfSync } from "node:crypto";
import { masterKey } from "@/lib/crypto/secrets";

/**
 * The audit chain's HMAC key (chain.ts). It never enters the database: GATEHOUSE_AUDIT_KEY
 * (base64, at least 32 bytes), or else derived from the master key (GATEHOUSE_SECRET_KEY, or the
 * key file in the data dir), so processes sharing one database share it exactly as they already
 * must share the master key. A separate GATEHOUSE_AUDIT_KEY lets the audit key outlive a master
 * key rotation, or be held by whoever verifies the log.
 */
const g = globalThis as { __gatehouseAuditKey?: Buffer };

export function auditKey(): Buffer {
  if (g.__gatehouseAuditKey) return g.__gatehouseAuditKey;
  const fromEnv = process.env.GATEHOUSE_AUDIT_KEY;
  let key: Buffer;
  if (fromEnv) {
    key = Buffer.from(fromEnv, "base64");
    if (key.length < 32) throw new Error("GATEHOUSE_AUDIT_KEY must be at least 32 bytes, base64-encoded (openssl rand -base64 32)");
  } else {
    key = Buffer.from(hkdfSync("sha256", masterKey(), Buffer.alloc(0), "gatehouse audit chain v1", 32));
  }
  return (g.__gatehouseAuditKey = key);
}
