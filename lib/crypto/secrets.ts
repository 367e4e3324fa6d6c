import fs from "node:fs";
import path from "node:path";
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Upstream credentials are sealed with AES-256-GCM under a master key that never enters the
 * database: GATEHOUSE_SECRET_KEY (base64, 32 bytes; required to scale out) or a key file
 * generated once in the data dir. Envelope: v1.<iv>.<tag>.<ciphertext>, all base64url.
 */
const g = globalThis as { __gatehouseMasterKey?: Buffer };

export function masterKey(): Buffer {
  if (g.__gatehouseMasterKey) return g.__gatehouseMasterKey;
  const fromEnv = process.env.GATEHOUSE_SECRET_KEY;
  let key: Buffer;
  if (fromEnv) {
    key = Buffer.from(fromEnv, "base64");
    if (key.length !== 32) throw new Error("GATEHOUSE_SECRET_KEY must be 32 bytes, base64-encoded (openssl rand -base64 32)");
  } else {
    const dir = path.resolve(/*turbopackIgnore: true*/ process.env.GATEHOUSE_DATA_DIR ?? "./data");
    const file = path.join(dir, "master.key");
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.existsSync(file)) {
      try {
        fs.writeFileSync(file, randomBytes(32).toString("base64"), { flag: "wx", mode: 0o600 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    }
    key = Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
  }
  return (g.__gatehouseMasterKey = key);
}

export function seal(plaintext: string, key = masterKey()): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return ["v1", iv.toString("base64url"), cipher.getAuthTag().toString("base64url"), ct.toString("base64url")].join(".");
}

export function open(envelope: string, key = masterKey()): string {
  const [v, iv, tag, ct] = envelope.split(".");
  if (v !== "v1" || !iv || !tag || ct === undefined) throw new Error("unrecognised secret envelope");
  const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
  decipher.setAuthTag(Buffer.from(tag, "base64url"));
  return Buffer.concat([decipher.update(Buffer.from(ct, "base64url")), decipher.final()]).toString("utf8");
}
