import { createHash, randomBytes } from "node:crypto";
import { and, eq, like, lt, sql } from "drizzle-orm";
import type { Db, Tx } from "@/db/client";
import { settings } from "@/db/schema";

/**
 * The hand-over from an external login (the SAML ACS) to a console session: a single-use code,
 * valid for two minutes, stored only as a hash, and tied to the login attempt (the AuthnRequest
 * id the browser holds in a cookie) so a code delivered into someone else's browser is useless
 * (login CSRF). Kept in `settings` so any process can redeem it.
 */
const PREFIX = "login-code:";
const TTL_MS = 120_000;

interface Stored {
  userId: string;
  binding: string;
  exp: number;
}

function keyOf(code: string) {
  return PREFIX + createHash("sha256").update(code).digest("hex");
}

export async function issueLoginCode(tx: Tx, userId: string, binding: string): Promise<string> {
  const code = randomBytes(32).toString("base64url");
  const now = Date.now();
  await tx.delete(settings).where(and(like(settings.key, `${PREFIX}%`), lt(sql`((${settings.value})::jsonb->>'exp')::bigint`, now)));
  const value: Stored = { userId, binding, exp: now + TTL_MS };
  await tx.insert(settings).values({ key: keyOf(code), value: JSON.stringify(value) });
  return code;
}

/** Deletes the code whatever happens next (one try per code); the user id if it was good. */
export async function redeemLoginCode(db: Db, code: string, binding: string): Promise<string | null> {
  if (!code || code.length > 100 || !binding) return null;
  const [row] = await db.delete(settings).where(eq(settings.key, keyOf(code))).returning({ value: settings.value });
  if (!row) return null;
  const stored = JSON.parse(row.value) as Stored;
  if (stored.exp <= Date.now() || stored.binding !== binding) return null;
  return stored.userId;
}
