import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { Db } from "@/db/client";
import { userSshKeys } from "@/db/schema";

/** Coarse on purpose: "last used" is for humans, and a write per SSH login would serialize on PGlite. */
const RESOLUTION_MS = 60_000;

/**
 * Called by the SSH gateway after a key login succeeded (signature verified). Not audited: the
 * session the login opens is recorded with its principal already.
 */
export async function touchSshKey(db: Db, keyId: string, now = new Date()) {
  await db
    .update(userSshKeys)
    .set({ lastUsedAt: now })
    .where(and(eq(userSshKeys.id, keyId), or(isNull(userSshKeys.lastUsedAt), lt(userSshKeys.lastUsedAt, new Date(now.getTime() - RESOLUTION_MS)))));
}
