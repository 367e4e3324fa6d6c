import { and, desc, eq } from "drizzle-orm";
import type { Db } from "../client";
import { userSshKeys, users } from "../schema";

/** Everything about a key except the blob; also what the add service returns. */
export const sshKeyColumns = {
  id: userSshKeys.id,
  userId: userSshKeys.userId,
  name: userSshKeys.name,
  algorithm: userSshKeys.algorithm,
  fingerprint: userSshKeys.fingerprint,
  createdAt: userSshKeys.createdAt,
  lastUsedAt: userSshKeys.lastUsedAt,
};

/**
 * One user's keys, newest first. The blob itself is left out: the fingerprint identifies a key
 * to a human, and nothing in the console or CLI needs the key material back.
 */
export function listSshKeys(db: Db, userId: string) {
  return db.select(sshKeyColumns).from(userSshKeys).where(eq(userSshKeys.userId, userId)).orderBy(desc(userSshKeys.createdAt)).limit(500);
}

/**
 * The SSH gateway's lookup: who owns the key a client offers. Pass ssh2's `ctx.key.algo` and
 * `ctx.key.data.toString("base64")`; this only answers who *would* own the key — the gateway must
 * still verify the signature (`ctx.signature`) before trusting it. A disabled user's keys answer
 * null, so a disabled account cannot log in by key even if a caller forgets to check the flag.
 */
export async function findSshKeyOwner(db: Db, algorithm: string, blobBase64: string): Promise<{ keyId: string; userId: string } | null> {
  // RSA keys are stored under their key type; clients sign with rsa-sha2-256/512 (ssh2 already maps these).
  if (algorithm === "rsa-sha2-256" || algorithm === "rsa-sha2-512") algorithm = "ssh-rsa";
  const [row] = await db
    .select({ keyId: userSshKeys.id, userId: userSshKeys.userId })
    .from(userSshKeys)
    .innerJoin(users, eq(users.id, userSshKeys.userId))
    .where(and(eq(userSshKeys.algorithm, algorithm), eq(userSshKeys.publicKey, blobBase64), eq(users.disabled, false)));
  return row ?? null;
}

/** Whether the key is still registered (a session that logged in with a removed one ends). */
export async function sshKeyExists(db: Db, keyId: string): Promise<boolean> {
  const [row] = await db.select({ id: userSshKeys.id }).from(userSshKeys).where(eq(userSshKeys.id, keyId));
  return !!row;
}
