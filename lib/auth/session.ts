import { decode } from "next-auth/jwt";
import { getDb } from "@/db/client";
import { getUserForSession } from "@/db/queries/users";
import { GatehouseError, type Role } from "@/lib/gateway/core/types";
import { clientAddressOf } from "@/lib/http/client-address";
import { groupNamesOf, verifyToken } from "@/lib/identity/tokens";
import { auditRefusedCredential } from "@/lib/services/audit/refusal";
import { sessionCookie, sessionSecret } from "./cookie";
import type { Caller } from "./caller";
import { signInHolds, signInOf } from "./sign-in";

/**
 * Resolves who is asking: a bearer token (CLI, agents) or the console session cookie. The user
 * row is re-read every time, so a disabled user or a bumped session version (role or password
 * change) makes an existing cookie worthless immediately, and so does removing the identity link
 * a cookie was signed in through.
 */
export async function callerFromRequest(req: Request): Promise<Caller | null> {
  const auth = req.headers.get("authorization");
  if (auth) return callerFromBearer(auth, { address: clientAddressOf(req.headers), method: req.method, path: new URL(req.url).pathname });
  return callerFromCookieHeader(req.headers.get("cookie"));
}

/**
 * A presented bearer token that does not verify is audited as the gateways audit theirs: a
 * revoked or expired token still in use, or guessed ones, are what security looks for. (No
 * cookie, or an expired one, is a signed-out browser, not an attempt: not audited.)
 */
export async function callerFromBearer(auth: string, from: { address: string; method: string; path: string }): Promise<Caller> {
  const db = await getDb();
  try {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    if (!m) throw new GatehouseError("UNAUTHENTICATED", "Authorization must be 'Bearer <token>'");
    const principal = await verifyToken(db, m[1]);
    return { userId: principal.userId, email: principal.email, role: principal.role, groups: principal.groups, via: "token", principal };
  } catch (err) {
    const reason = err instanceof GatehouseError ? err.message : "authentication failed";
    // Keyed by address only: a guesser walking the paths is one attempt, repeated.
    await auditRefusedCredential(db, from.address, { action: "api.auth_failed", subject: `api:${from.path.slice(0, 200)}`, detail: { protocol: "http", method: from.method, address: from.address, reason } });
    throw err;
  }
}

/** Server components and WebSocket upgrades use the raw Cookie header. */
export async function callerFromCookieHeader(cookieHeader: string | null | undefined): Promise<Caller | null> {
  const raw = readCookie(cookieHeader ?? "", cookieName());
  if (!raw) return null;
  const claims = (await decode({ token: raw, secret: sessionSecret() }).catch(() => null)) as { uid?: string; sv?: number; exp?: number; si?: unknown } | null;
  // next-auth always writes `exp`; a cookie without one would never expire, and a socket opened
  // with it would never close: refused.
  if (!claims?.uid || typeof claims.exp !== "number") return null;
  const signIn = signInOf(claims.si);
  if (!signIn) return null;
  const db = await getDb();
  const user = await getUserForSession(db, claims.uid);
  if (!user || user.disabled || user.sessionVersion !== claims.sv) return null;
  // Signed in through an identity link: good only while that link stands (unlinking ends it).
  if (!(await signInHolds(db, user.id, signIn))) return null;
  return { userId: user.id, email: user.email, role: user.role as Role, groups: await groupNamesOf(db, user.id), via: "session", sessionExpiresAt: new Date(claims.exp * 1000), signIn };
}

export async function callerFromServerComponent(): Promise<Caller | null> {
  const { headers } = await import("next/headers");
  return callerFromCookieHeader((await headers()).get("cookie"));
}

function readCookie(header: string, name: string): string | null {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return null;
}

function cookieName() {
  return sessionCookie().name;
}
