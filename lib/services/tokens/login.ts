import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { users } from "@/db/schema";
import { clearLoginFailures, loginLockedUntil, recordLoginFailure } from "@/lib/auth/throttle";
import { verifyPassword } from "@/lib/crypto/password";
import { GatehouseError, type Role } from "@/lib/gateway/core/types";
import { getSigningKeys } from "@/lib/identity/keys";
import { issueToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { auditRefusedCredential } from "../audit/refusal";
import { mutate } from "../tx";

const loginInput = z.object({
  email: z.string().trim().toLowerCase().max(254),
  password: z.string().max(256),
  ttlSeconds: z.number().int().min(60).max(7 * 24 * 3600).default(12 * 3600),
});

/** Password check shared by the console (next-auth) and `gatehouse login`; throttled and audited. */
export async function checkPassword(db: Db, email: string, password: string, address: string) {
  const locked = await loginLockedUntil(db, email, address);
  if (locked) {
    // Still a failed login: guessing on against a locked account is what security must see.
    await auditRefusedCredential(db, `${address}\u0000${email.toLowerCase()}\u0000locked`, { action: "auth.login_failed", subject: `user:${email.toLowerCase()}`, detail: { address, locked: true } });
    throw new GatehouseError("RATE_LIMITED", `too many failed logins; try again after ${locked.toISOString()}`);
  }
  const [user] = await db
    .select({ id: users.id, email: users.email, role: users.role, passwordHash: users.passwordHash, disabled: users.disabled, sessionVersion: users.sessionVersion })
    .from(users)
    .where(eq(users.email, email.toLowerCase()));
  const ok = await verifyPassword(password, user?.passwordHash);
  if (!ok || !user || user.disabled) {
    await recordLoginFailure(db, email, address);
    await auditRefusedCredential(db, `${address}\u0000${email.toLowerCase()}`, { action: "auth.login_failed", subject: `user:${email.toLowerCase()}`, detail: { address } });
    throw new GatehouseError("UNAUTHENTICATED", "wrong email or password");
  }
  await clearLoginFailures(db, email);
  return { id: user.id, email: user.email, role: user.role as Role, sessionVersion: user.sessionVersion };
}

/**
 * Console sign-in with a password: checked like `gatehouse login` and audited like it (only the
 * failures were, so a stolen password used in a browser left no trace of the sign-in).
 */
export async function consoleLogin(db: Db, email: string, password: string, address: string) {
  const user = await checkPassword(db, email, password, address);
  await mutate(db, (tx) => appendAudit(tx, { userId: user.id, email: user.email }, { action: "auth.login", subject: `user:${user.email}`, detail: { via: "console", address } }));
  return user;
}

/** `gatehouse login`: email + password → a short-lived login token. */
export async function loginWithPassword(db: Db, input: unknown, address: string) {
  const data = loginInput.parse(input);
  const user = await checkPassword(db, data.email, data.password, address);
  const keys = await getSigningKeys(db);
  return mutate(db, async (tx) => {
    const issued = await issueToken(tx, keys, {
      userId: user.id,
      email: user.email,
      kind: "login",
      name: "cli login",
      ttlSeconds: data.ttlSeconds,
      chain: [{ kind: "user", id: user.id, name: user.email }],
    });
    await appendAudit(tx, { userId: user.id, email: user.email }, { action: "auth.login", subject: `user:${user.email}`, detail: { via: "password", address, token: issued.id } });
    return { token: issued.token, id: issued.id, expiresAt: issued.expiresAt.toISOString() };
  });
}
