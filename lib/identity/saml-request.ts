import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { and, eq, like, lt, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { settings } from "@/db/schema";
import { masterKey } from "@/lib/crypto/secrets";

/**
 * SAML AuthnRequest ids that prove themselves: "_gh" + issued-at + nonce + HMAC under the master
 * key. Starting a login therefore stores nothing (an anonymous flood of /api/auth/saml/login
 * cannot fill the database), and any process sharing the master key can check an id. Only
 * consumed ids are stored — one row per successful IdP response — until they would have expired
 * anyway, so each id is honoured exactly once.
 */
export const REQUEST_TTL_MS = 10 * 60_000;
const USED = "saml:used:";

function mac(body: string): string {
  return createHmac("sha256", masterKey()).update(`saml-request-id:${body}`).digest("hex").slice(0, 32);
}

export function newRequestId(now = Date.now()): string {
  // An XML ID must be an NCName: letters, digits, "_", "-", "." and not starting with a digit.
  const body = `${now.toString(36)}-${randomBytes(12).toString("hex")}`;
  return `_gh-${body}-${mac(body)}`;
}

/** The issue time of an authentic, unexpired request id; null for anything else. */
export function requestIdIssuedAt(id: string, now = Date.now()): number | null {
  const m = /^_gh-([0-9a-z]{1,12})-([0-9a-f]{24})-([0-9a-f]{32})$/.exec(id);
  if (!m) return null;
  const expected = Buffer.from(mac(`${m[1]}-${m[2]}`));
  if (!timingSafeEqual(expected, Buffer.from(m[3]))) return null;
  const issuedAt = parseInt(m[1], 36);
  if (!(issuedAt <= now + 60_000 && now - issuedAt <= REQUEST_TTL_MS)) return null;
  return issuedAt;
}

export async function isRequestIdConsumed(db: Db, id: string): Promise<boolean> {
  const [row] = await db.select({ key: settings.key }).from(settings).where(eq(settings.key, USED + id));
  return !!row;
}

/**
 * Marks an id used. True only for the one caller whose insert landed: two POSTs of one response
 * racing each other cannot both win. Expired markers are swept on the way.
 */
export async function consumeRequestId(db: Db, id: string): Promise<boolean> {
  const issuedAt = requestIdIssuedAt(id);
  if (issuedAt === null) return false;
  const now = Date.now();
  await db.delete(settings).where(and(like(settings.key, `${USED}%`), lt(sql`(${settings.value})::bigint`, now)));
  const won = await db
    .insert(settings)
    .values({ key: USED + id, value: String(issuedAt + REQUEST_TTL_MS + 60_000) })
    .onConflictDoNothing()
    .returning({ key: settings.key });
  return won.length === 1;
}
