import { and, eq } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { externalIdentities, users } from "@/db/schema";
import type { Role } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { email as emailSchema, groupName } from "./input";
import { setMemberships } from "./memberships";

export type ExternalSource = "saml" | "oidc";

export interface ExternalProfile {
  /** the IdP: OIDC `iss`, SAML assertion Issuer */
  issuer: string;
  /** stable id at the IdP: OIDC `sub`, SAML persistent NameID; "" when the IdP sent none */
  subject: string;
  email: string;
  /** OIDC `email_verified` (null: the claim is absent; SAML never has it) */
  emailVerified: boolean | null;
  /** the operator trusts this IdP's email without a verified flag (GATEHOUSE_*_TRUST_*EMAIL) */
  trustEmail: boolean;
  name: string;
  groups: unknown;
  /** when the IdP issued what carries these groups (token `iat`); null: unknown */
  issuedAt: Date | null;
  source: ExternalSource;
  create: boolean;
}

export type ExternalUser =
  | { ok: true; id: string; email: string; role: Role; sessionVersion: number; groups: string[]; groupsSynced: boolean; created: boolean; linked: boolean; link: { issuer: string; subject: string } }
  | { ok: false; reason: string };

const columns = { id: users.id, email: users.email, role: users.role, disabled: users.disabled, sessionVersion: users.sessionVersion };

/**
 * Maps an identity vouched for by an external IdP (SAML assertion, OIDC token) to a Gatehouse
 * user, inside the caller's transaction so the login/issuance it belongs to commits with it.
 *
 * An account linked to (issuer, subject) is that subject's alone: another subject claiming its
 * email is refused, and the linked subject keeps it when its email changes. An email maps to an
 * account (found, or created when `create` is set) only if the IdP vouches for the address —
 * `email_verified: true`, or the operator's explicit trust — since with an IdP that lets users
 * set their own address, an email alone would hand anyone any account, the first admin included.
 *
 * The IdP's groups replace the user's IdP-sourced memberships (console-managed ones stay), but
 * only from a token at least as new as the last one synced: a replayed older (still valid) token
 * cannot give back a group the IdP took away. The role is never taken from the IdP.
 */
export async function syncExternalUser(tx: Tx, profile: ExternalProfile): Promise<ExternalUser> {
  if (!profile.subject) return { ok: false, reason: "the identity provider sent no stable subject (a transient NameID names nobody for long)" };
  const key = and(eq(externalIdentities.issuer, profile.issuer), eq(externalIdentities.subject, profile.subject));
  const [link] = await tx.select({ userId: externalIdentities.userId, groupsSyncedAt: externalIdentities.groupsSyncedAt }).from(externalIdentities).where(key);
  let user;
  let created = false;
  if (link) {
    [user] = await tx.select(columns).from(users).where(eq(users.id, link.userId));
  } else {
    const found = await userByVouchedEmail(tx, profile);
    if (!found.ok) return found;
    ({ user, created } = found);
    // Two first sign-ins racing: one links; the other is fine only if it is the same subject.
    const [inserted] = await tx.insert(externalIdentities).values({ issuer: profile.issuer, subject: profile.subject, userId: user.id }).onConflictDoNothing().returning({ userId: externalIdentities.userId });
    const [now] = inserted ? [inserted] : await tx.select({ userId: externalIdentities.userId }).from(externalIdentities).where(key);
    if (now?.userId !== user.id) return { ok: false, reason: "this account is linked to another identity at the identity provider" };
    if (inserted) await appendAudit(tx, { userId: user.id, email: user.email }, { action: "user.link_external", subject: `user:${user.email}`, detail: { source: profile.source, issuer: profile.issuer, externalSubject: profile.subject, created } });
  }
  if (!user) return { ok: false, reason: "no Gatehouse user for this identity" };
  const groups = groupsFrom(profile.groups);
  if (created) {
    await appendAudit(tx, { userId: user.id, email: user.email }, { action: "user.create", subject: `user:${user.email}`, detail: { role: "member", groups, source: profile.source } });
  }
  if (user.disabled) return { ok: false, reason: "account disabled" };
  const last = link?.groupsSyncedAt ?? null;
  const groupsSynced = !!profile.issuedAt && (!last || profile.issuedAt >= last);
  if (groupsSynced) {
    // Memberships synced from any IdP share the "oidc" source: "came from the identity provider".
    await setMemberships(tx, user.id, groups, "oidc");
    await tx.update(externalIdentities).set({ groupsSyncedAt: profile.issuedAt }).where(key);
  }
  return { ok: true, id: user.id, email: user.email, role: user.role as Role, sessionVersion: user.sessionVersion, groups, groupsSynced, created, linked: !link, link: { issuer: profile.issuer, subject: profile.subject } };
}

type Found = { ok: true; user: { id: string; email: string; role: string; disabled: boolean; sessionVersion: number }; created: boolean } | { ok: false; reason: string };

/** The account an unlinked identity's email names, or a new one; only for an email the IdP vouches for. */
async function userByVouchedEmail(tx: Tx, profile: ExternalProfile): Promise<Found> {
  const email = emailSchema.safeParse(profile.email);
  if (!email.success) return { ok: false, reason: "the identity provider sent no usable email address" };
  if (profile.emailVerified === false) return { ok: false, reason: "email is not verified" };
  const [existing] = await tx.select({ ...columns, source: users.source, passwordHash: users.passwordHash }).from(users).where(eq(users.email, email.data));
  let user = existing && { id: existing.id, email: existing.email, role: existing.role, disabled: existing.disabled, sessionVersion: existing.sessionVersion };
  if (existing && profile.emailVerified !== true && !profile.trustEmail && !createdByThisKindOfLogin(existing, profile)) {
    const setting = profile.source === "saml" ? "GATEHOUSE_SAML_TRUST_EMAIL=1" : "email_verified: true, or GATEHOUSE_OIDC_TRUST_UNVERIFIED_EMAIL=1";
    return { ok: false, reason: `email is not verified: linking the existing account ${email.data} by email needs ${setting}` };
  }
  if (user) {
    const [other] = await tx.select({ subject: externalIdentities.subject }).from(externalIdentities).where(and(eq(externalIdentities.userId, user.id), eq(externalIdentities.issuer, profile.issuer)));
    if (other) return { ok: false, reason: "this account is linked to another identity at the identity provider" };
    return { ok: true, user, created: false };
  }
  if (!profile.create) return { ok: false, reason: `no Gatehouse user ${email.data}` };
  // A new account is named by its email, and policies may name that email: it must be vouched for
  // too. SAML has no flag: the IdP's signed attribute is its word (auto-create is the operator's).
  if (profile.source === "oidc" && profile.emailVerified !== true && !profile.trustEmail) return { ok: false, reason: "email is not verified: set email_verified at the IdP, or GATEHOUSE_OIDC_TRUST_UNVERIFIED_EMAIL=1" };
  // Two first logins racing: the loser's insert does nothing and it reads the winner's row.
  [user] = await tx.insert(users).values({ email: email.data, name: profile.name.slice(0, 200), source: profile.source, role: "member" }).onConflictDoNothing().returning(columns);
  if (user) return { ok: true, user, created: true };
  [user] = await tx.select(columns).from(users).where(eq(users.email, email.data));
  return user ? { ok: true, user, created: false } : { ok: false, reason: `no Gatehouse user ${email.data}` };
}

/**
 * SAML has no email_verified, and SAML logins have always created accounts by email: an account
 * such a login created (no password) and not yet linked — one from before accounts were linked —
 * links on its next SAML login as it would have been created. Local accounts never do.
 */
function createdByThisKindOfLogin(user: { source: string; passwordHash: string | null }, profile: ExternalProfile): boolean {
  return profile.source === "saml" && user.source === "saml" && user.passwordHash === null;
}

/** Group names that Gatehouse can store; anything else the IdP sends is dropped, not fatal. */
function groupsFrom(raw: unknown): string[] {
  const list = Array.isArray(raw) ? raw : typeof raw === "string" && raw ? [raw] : [];
  return [...new Set(list.filter((g): g is string => typeof g === "string" && groupName.safeParse(g).success))].slice(0, 256);
}
