import http from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from "jose";

/**
 * A real local OpenID provider as far as token exchange needs one: a discovery document and a
 * JWKS over HTTP, and a key that signs ID tokens for a given subject and email.
 */
export interface OidcIdp {
  issuer: string;
  audience: string;
  sign(sub: string, email: string, claims?: JWTPayload): Promise<string>;
  close(): void;
}

export async function startOidcIdp(audience = "gatehouse-api"): Promise<OidcIdp> {
  const pair = await generateKeyPair("RS256", { extractable: true });
  const key: CryptoKey = pair.privateKey;
  const jwk: JWK = { ...(await exportJWK(pair.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  let issuer = "";
  const server = http.createServer((req, res) => {
    res.setHeader("content-type", "application/json");
    if (req.url === "/.well-known/openid-configuration") return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/keys`, id_token_signing_alg_values_supported: ["RS256"] }));
    if (req.url === "/keys") return res.end(JSON.stringify({ keys: [jwk] }));
    res.statusCode = 404;
    res.end("{}");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    audience,
    sign(sub, email, claims = {}) {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ email, email_verified: true, ...claims })
        .setProtectedHeader({ alg: "RS256", kid: "k1", typ: "JWT" })
        .setIssuer(issuer)
        .setAudience(audience)
        .setSubject(sub)
        .setIssuedAt(now - 5)
        .setExpirationTime(now + 600)
        .sign(key);
    },
    close: () => server.close(),
  };
}

const EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const ID_TOKEN = "urn:ietf:params:oauth:token-type:id_token";

/** RFC 8693 exchange of an IdP's ID token at Gatehouse's /api/v1/token. */
export async function exchangeIdToken(url: string, idToken: string, extra: Record<string, string> = {}) {
  const res = await fetch(`${url}/api/v1/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token: idToken, subject_token_type: ID_TOKEN, ...extra }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
