import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

const N = 16384;
const r = 8;
const p = 1;
const KEYLEN = 32;

function scryptAsync(password: string, salt: Buffer, n = N): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, KEYLEN, { N: n, r, p, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

/** Format: scrypt$N$salt$hash (base64). Parameters are stored so they can be raised later. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt);
  return `scrypt$${N}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export async function verifyPassword(password: string, stored: string | null | undefined): Promise<boolean> {
  // Always spend the scrypt time, so a missing account is not distinguishable by timing.
  const parts = stored?.split("$") ?? [];
  const valid = parts.length === 4 && parts[0] === "scrypt";
  const n = valid ? Number(parts[1]) : N;
  const salt = valid ? Buffer.from(parts[2], "base64") : randomBytes(16);
  const key = await scryptAsync(password, salt, Number.isInteger(n) && n >= 1024 && n <= 1 << 20 ? n : N);
  if (!valid) return false;
  const expected = Buffer.from(parts[3], "base64");
  return expected.length === key.length && timingSafeEqual(expected, key);
}

/** A readable random password for the first admin when none is configured. */
export function generatePassword(): string {
  return randomBytes(18).toString("base64url");
}
