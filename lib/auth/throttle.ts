import { eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { loginThrottle } from "@/db/schema";

/**
 * Login brute-force limits, kept in the database so every process counts together:
 * per account 5 failures per 15 minutes, per client address 30; then locked for 15 minutes.
 */
const WINDOW_MS = 15 * 60_000;
const LOCK_MS = 15 * 60_000;
const LIMITS = { account: 5, address: 30 };

function keys(email: string, address: string) {
  return [
    { key: `account:${email.toLowerCase()}`, limit: LIMITS.account },
    { key: `address:${address}`, limit: LIMITS.address },
  ];
}

export async function loginLockedUntil(db: Db, email: string, address: string): Promise<Date | null> {
  for (const { key } of keys(email, address)) {
    const [row] = await db.select().from(loginThrottle).where(eq(loginThrottle.key, key));
    if (row?.lockedUntil && row.lockedUntil.getTime() > Date.now()) return row.lockedUntil;
  }
  return null;
}

/**
 * Times go into the raw SQL below as ISO text with a cast: drizzle leaves a Date in `sql` as is,
 * which PGlite accepts but postgres.js (DATABASE_URL) refuses, so every failed login there failed
 * with a 500 before it was counted or audited, and the limits never applied.
 */
const at = (d: Date) => sql`${d.toISOString()}::timestamptz`;

export async function recordLoginFailure(db: Db, email: string, address: string) {
  for (const { key, limit } of keys(email, address)) {
    const now = new Date();
    const windowFloor = at(new Date(now.getTime() - WINDOW_MS));
    await db
      .insert(loginThrottle)
      .values({ key, failures: 1, windowStart: now })
      .onConflictDoUpdate({
        target: loginThrottle.key,
        set: {
          failures: sql`case when ${loginThrottle.windowStart} < ${windowFloor} then 1 else ${loginThrottle.failures} + 1 end`,
          windowStart: sql`case when ${loginThrottle.windowStart} < ${windowFloor} then ${at(now)} else ${loginThrottle.windowStart} end`,
          lockedUntil: sql`case when ${loginThrottle.windowStart} >= ${windowFloor} and ${loginThrottle.failures} + 1 >= ${limit} then ${at(new Date(now.getTime() + LOCK_MS))} else ${loginThrottle.lockedUntil} end`,
        },
      });
  }
}

export async function clearLoginFailures(db: Db, email: string) {
  await db.delete(loginThrottle).where(eq(loginThrottle.key, `account:${email.toLowerCase()}`));
}
