import type { Db } from "@/db/client";
import { linkedAt } from "@/db/queries/external-identities";
import { throughLink } from "@/lib/auth/sign-in";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { emailVerifiedOf } from "@/lib/identity/external-oidc";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { syncExternalUser } from "./external-sync";

/** What next-auth's OIDC provider hands over: the ID token's claims (see lib/auth/options.ts). */
export interface OidcLoginProfile {
  issuer: string;
  sub: string;
  email: string;
  emailVerified: unknown;
  iat: unknown;
  name: string;
  groups: unknown;
  trustUnverifiedEmail: boolean;
}

/**
 * Console OIDC login: the same mapping as every external identity (lib/services/users/external-sync.ts):
 * pinned to (issuer, sub), an email maps only when verified, the first login creates a member
 * account, groups re-sync from the newest ID token. Refused (null) when disabled or not vouched
 * for; refusals are audited.
 */
export async function syncOidcUser(db: Db, profile: OidcLoginProfile) {
  const issuedAt = typeof profile.iat === "number" ? new Date(profile.iat * 1000) : null;
  const emailVerified = emailVerifiedOf(profile.emailVerified);
  try {
    return await mutate(db, async (tx, emit) => {
      if (emailVerified === false) throw new GatehouseError("UNAUTHENTICATED", "email is not verified");
      const user = await syncExternalUser(tx, { issuer: profile.issuer, subject: profile.sub, email: profile.email, emailVerified, trustEmail: profile.trustUnverifiedEmail, name: profile.name, groups: profile.groups, issuedAt, source: "oidc", create: true });
      if (!user.ok) throw new GatehouseError("UNAUTHENTICATED", user.reason);
      if (user.groupsSynced) emit(Topics.userGroupsSynced, { userId: user.id });
      await appendAudit(tx, { userId: user.id, email: user.email }, { action: "auth.login", subject: `user:${user.email}`, detail: { via: "oidc", externalSubject: profile.sub, groups: user.groups, groupsSynced: user.groupsSynced, userCreated: user.created, linked: user.linked } });
      const at = await linkedAt(tx, user.id, user.link);
      if (at === null) throw new GatehouseError("UNAUTHENTICATED", "the identity is not linked to this account");
      // The console session records the link it came through: unlinking it ends this session only.
      return { id: user.id, sessionVersion: user.sessionVersion, signIn: throughLink("oidc", { ...user.link, linkedAt: at }) };
    });
  } catch (err) {
    if (!(err instanceof GatehouseError)) throw err;
    await mutate(db, (tx) => appendAudit(tx, null, { action: "auth.login_failed", subject: `user:${profile.email || "?"}`, detail: { via: "oidc", externalSubject: profile.sub, reason: err.message } })).catch(() => {});
    return null;
  }
}
