import type { Db } from "@/db/client";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { issueLoginCode } from "@/lib/identity/login-code";
import { validateSamlResponse, type SamlConfig } from "@/lib/identity/saml";
import { appendAudit } from "../audit/append";
import { auditRefusedCredential } from "../audit/refusal";
import { mutate } from "../tx";
import { syncExternalUser } from "./external-sync";

/**
 * The SAML ACS: validate the IdP's response, map it to a user (created as a member on first
 * login unless GATEHOUSE_SAML_AUTO_CREATE_USERS=0), and hand back a single-use login code bound to
 * the AuthnRequest id. Success and every refusal are audited; refusal reasons go to the audit
 * log, never to the browser.
 */
export async function samlLogin(db: Db, cfg: SamlConfig, publicUrl: string, samlResponse: string, address: string): Promise<{ code: string; requestId: string }> {
  let identity;
  try {
    identity = await validateSamlResponse(db, cfg, publicUrl, samlResponse);
  } catch (err) {
    await auditRefusal(db, "?", err, address);
    throw err;
  }
  try {
    return await mutate(db, async (tx, emit) => {
      // Each assertion answers one request of ours and is honoured once: none can be replayed, so
      // its groups are always the newest the IdP has said.
      const user = await syncExternalUser(tx, { ...identity, issuer: identity.issuer || cfg.entryPoint, emailVerified: null, trustEmail: cfg.trustEmail, issuedAt: new Date(), source: "saml", create: cfg.autoCreateUsers });
      if (!user.ok) throw new GatehouseError("UNAUTHENTICATED", user.reason);
      emit(Topics.userGroupsSynced, { userId: user.id });
      const code = await issueLoginCode(tx, user.id, identity.requestId, user.link);
      await appendAudit(tx, { userId: user.id, email: user.email }, {
        action: "auth.login",
        subject: `user:${user.email}`,
        detail: { via: "saml", idp: identity.issuer, nameId: identity.nameId, groups: user.groups, userCreated: user.created, linked: user.linked, address },
      });
      return { code, requestId: identity.requestId };
    });
  } catch (err) {
    await auditRefusal(db, identity.email || "?", err, address);
    throw err;
  }
}

async function auditRefusal(db: Db, email: string, err: unknown, address: string) {
  const reason = err instanceof GatehouseError ? err.message : "SAML login failed";
  await auditRefusedCredential(db, `${address}\u0000${email}\u0000saml`, { action: "auth.login_failed", subject: `user:${email}`, detail: { via: "saml", reason, address } });
}
