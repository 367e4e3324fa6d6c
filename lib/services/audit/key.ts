import { hkdfSync } from "node:crypto";
import { masterKey } from "@/lib/crypto/secrets";
import { keyRing, type KeyRing } from "./chain";

/**
 * The audit chain's HMAC keys (chain.ts). They never enter the database: GATEHOUSE_AUDIT_KEY
 * (base64, at least 32 bytes), or else derived from the master key (GATEHOUSE_SECRET_KEY, or the
 * key file in the data dir), so processes sharing one database share it exactly as they already
 * must share the master key. A separate GATEHOUSE_AUDIT_KEY lets the audit key outlive a master
 * key rotation, or be held by whoever verifies the log.
 *
 * GATEHOUSE_AUDIT_KEYS_RETIRED lists the keys the log was keyed with before a rotation
 * (rotate-key.ts), comma-separated; `master` stands for the key derived from the master key (the
 * default, whose bytes nobody has seen). They verify the old part of the log; nothing new is
 * written with one once the log has rotated away from it.
 */
const g = globalThis as { __gatehouseAuditKey?: Buffer; __gatehouseAuditKeyRing?: KeyRing };

function derivedKey(): Buffer {
  return Buffer.from(hkdfSync("sha256", masterKey(), Buffer.alloc(0), "gatehouse audit chain v1", 32));
}

function parseKey(text: string, name: string): Buffer {
  const key = Buffer.from(text, "base64");
  if (key.length < 32) throw new Error(`${name} must be at least 32 bytes, base64-encoded (openssl rand -base64 32)`);
  return key;
}

export function auditKey(): Buffer {
  if (g.__gatehouseAuditKey) return g.__gatehouseAuditKey;
  const fromEnv = process.env.GATEHOUSE_AUDIT_KEY;
  return (g.__gatehouseAuditKey = fromEnv ? parseKey(fromEnv, "GATEHOUSE_AUDIT_KEY") : derivedKey());
}

/** This process's key and the retired ones it was given, by id. */
export function auditKeyRing(): KeyRing {
  if (g.__gatehouseAuditKeyRing) return g.__gatehouseAuditKeyRing;
  const retired = (process.env.GATEHOUSE_AUDIT_KEYS_RETIRED ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => (s === "master" ? derivedKey() : parseKey(s, "each key in GATEHOUSE_AUDIT_KEYS_RETIRED")));
  return (g.__gatehouseAuditKeyRing = keyRing(auditKey(), retired));
}
