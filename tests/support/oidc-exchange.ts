import type { JWTPayload } from "jose";
import type { OidcIdp } from "./oidc-idp";

/** The audience Gatehouse is configured to expect (GATEHOUSE_OIDC_AUDIENCE) in these suites. */
export const OIDC_AUDIENCE = "gatehouse-api";

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

/** An ID token the IdP issues to subject `sub` with a verified `email`. */
export function idTokenFor(idp: OidcIdp, sub: string, email: string, claims: JWTPayload = {}) {
  return idp.sign({ email, email_verified: true, ...claims }, { sub, typ: "JWT" });
}

/** RFC 8693 exchange of an IdP's ID token at Gatehouse's /api/v1/token; the status and the JSON answer. */
export async function exchangeIdToken(url: string, idToken: string, extra: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN, ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
