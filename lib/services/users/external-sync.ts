import { eq } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { users } from "@/db/schema";
import type { Role } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { email as emailSchema, groupName } from "./input";
import { setMemberships } from "./memberships";

export type ExternalSource = "saml" | "oidc";

export type ExternalUser = { ok: true; id: string; email: string; role: Role; sessionVersion: number; groups: string[]; created: boolean } | { ok: false; reason: string };

/**
 * Maps an identity vouched for by an external IdP (SAML assertion, OIDC token) to a Gatehouse
 * user, inside the caller's transaction so the login/issuance it belongs to commits with it.
 * Matching is by email only; an unknown email is created as a member only when `create` is set.
 * The IdP's groups replace the user's IdP-sourced memberships (console-managed ones stay). The
 * role is never taken from the IdP.
 */
export async function syncExternalUser(
  tx: Tx,
  profile: { email: string; name: string; groups: unknown; source: ExternalSource; create: boolean },
): Promise<ExternalUser> {
  const email = emailSchema.safeParse(profile.email);
  if (!email.success) return { ok: false, reason: "the identity provider sent no usable email address" };
  const groups = groupsFrom(profile.groups);
  const columns = { id: users.id, email: users.email, role: users.role, disabled: users.disabled, sessionVersion: users.sessionVersion };
  let [user] = await tx.select(columns).from(users).where(eq(users.email, email.data));
  let created = false;
  if (!user) {
    if (!profile.create) return { ok: false, reason: `no Gatehouse user ${email.data}` };
    // Two first logins racing: the loser's insert does nothing and it reads the winner's row.
    [user] = await tx.insert(users).values({ email: email.data, name: profile.name.slice(0, 200), source: profile.source, role: "member" }).onConflictDoNothing().returning(columns);
    created = !!user;
    if (!user) [user] = await tx.select(columns).from(users).where(eq(users.email, email.data));
  }
  if (created) {
    await appendAudit(tx, { userId: user.id, email: user.email }, { action: "user.create", subject: `user:${user.email}`, detail: { role: "member", groups, source: profile.source } });
  }
  if (user.disabled) return { ok: false, reason: "account disabled" };
  // Memberships synced from any IdP share the "oidc" source: "came from the identity provider".
  await setMemberships(tx, user.id, groups, "oidc");
  return { ok: true, id: user.id, email: user.email, role: user.role as Role, sessionVersion: user.sessionVersion, groups, created };
}

/** Group names that Gatehouse can store; anything else the IdP sends is dropped, not fatal. */
function groupsFrom(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" && raw ? [raw] : [];
  return [...new Set(list.filter((g): g is string => typeof g === "string" && groupName.safeParse(g).success))].slice(0, 256);
}
