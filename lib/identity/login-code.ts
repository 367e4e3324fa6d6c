import { createHash, randomBytes } from "node:crypto";
import { and, eq, like, lt, sql } from "drizzle-orm";
import type { Db, Tx } from "@/db/client";
import { linkedAt } from "@/db/queries/external-identities";
import { getUserForSession } from "@/db/queries/users";
import { settings, users } from "@/db/schema";
import { signInHolds, throughLink, type LinkRef, type SignIn } from "@/lib/auth/sign-in";

/**
 * The hand-over from an external login (the SAML ACS) to a console session: a single-use code,
 * valid for two minutes, stored only as a hash, and tied to the login attempt (the AuthnRequest
 * id the browser holds in a cookie) so a code delivered into someone else's browser is useless
 * (login CSRF). Kept in `settings` so any process can redeem it.
 *
 * It also carries the user's session version when issued, and the identity link it came through:
 * whatever ends the user's console sessions before it is redeemed (signing out everywhere, a
 * password or role change, disabling) voids it, since a cookie minted from it would carry the new
 * version and be a live session, and so does unlinking that identity (the cookie would come
 * through a link that no longer stands).
 */
const PREFIX = "login-code:";
const TTL_MS = 120_000;

interface Stored {
  userId: string;
  binding: string;
  exp: number;
  /** the user's session version at issue */
  sv: number;
  /** the identity link the login came through */
  link: LinkRef;
}

function keyOf(code: string) {
  return PREFIX + createHash("sha256").update(code).digest("hex");
}

export async function issueLoginCode(tx: Tx, userId: string, binding: string, through: { issuer: string; subject: string }): Promise<string> {
  const code = randomBytes(32).toString("base64url");
  const now = Date.now();
  await tx.delete(settings).where(and(like(settings.key, `${PREFIX}%`), lt(sql`((${settings.value})::jsonb->>'exp')::bigint`, now)));
  const [user] = await tx.select({ sv: users.sessionVersion }).from(users).where(eq(users.id, userId));
  if (!user) throw new Error("login code for a user that does not exist");
  const at = await linkedAt(tx, userId, through);
  if (at === null) throw new Error("login code through an identity not linked to its user");
  const value: Stored = { userId, binding, exp: now + TTL_MS, sv: user.sv, link: { issuer: through.issuer, subject: through.subject, linkedAt: at } };
  await tx.insert(settings).values({ key: keyOf(code), value: JSON.stringify(value) });
  return code;
}

/** Deletes the code whatever happens next (one try per code); its user and how they signed in, if it was good. */
export async function redeemLoginCode(db: Db, code: string, binding: string): Promise<{ userId: string; signIn: SignIn } | null> {
  if (!code || code.length > 100 || !binding) return null;
  const [row] = await db.delete(settings).where(eq(settings.key, keyOf(code))).returning({ value: settings.value });
  if (!row) return null;
  const stored = JSON.parse(row.value) as Stored;
  if (stored.exp <= Date.now() || stored.binding !== binding) return null;
  // A code from before the user's sessions were ended (or from before codes carried it) is void.
  const user = await getUserForSession(db, stored.userId);
  if (!user || typeof stored.sv !== "number" || user.sessionVersion !== stored.sv) return null;
  if (!stored.link) return null;
  const signIn = throughLink("saml", stored.link);
  if (!(await signInHolds(db, stored.userId, signIn))) return null;
  return { userId: stored.userId, signIn };
}
