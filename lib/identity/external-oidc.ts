import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from "jose";
import { GatehouseError } from "@/lib/gateway/core/types";

/**
 * Verifies OIDC ID tokens and JWT access tokens from the one configured external issuer, for
 * RFC 8693 token exchange. Keys come from the issuer's JWKS (discovered, or configured), and the
 * algorithm allow-list is asymmetric only: `alg:none` and HS* are refused before any key lookup,
 * so nobody can sign with the issuer's PUBLIC key used as an HMAC secret.
 */
export const EXTERNAL_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/** Clock skew tolerated on exp/nbf/iat between the IdP and us. */
const CLOCK_TOLERANCE_S = 30;
const DISCOVERY_TTL_MS = 3600_000;

export interface ExternalOidcConfig {
  issuer: string;
  audience: string;
  jwksUrl: string | null;
  groupsClaim: string;
}

export interface ExternalIdentity {
  issuer: string;
  subject: string;
  email: string;
  /** `email_verified`; null when the token does not say */
  emailVerified: boolean | null;
  name: string;
  groups: unknown;
  /** `iat`: orders group syncs, so an older token cannot undo a newer one */
  issuedAt: Date | null;
  expiresAt: Date;
}

/**
 * Only picks which verifier to run: the unverified `iss` says whether the token claims to be the
 * external issuer's. Whatever it says, the chosen verifier then checks everything.
 */
export function claimsExternalIssuer(token: string, issuer: string): boolean {
  try {
    return decodeJwt(token).iss === issuer;
  } catch {
    return false;
  }
}

export async function verifyExternalToken(token: string, cfg: ExternalOidcConfig): Promise<ExternalIdentity> {
  if (!cfg.audience) throw new GatehouseError("UNAUTHENTICATED", "external tokens are not accepted: GATEHOUSE_OIDC_AUDIENCE is not set");
  const jwks = await jwksFor(cfg);
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(token, jwks, {
      algorithms: EXTERNAL_ALGORITHMS,
      issuer: cfg.issuer,
      audience: cfg.audience,
      clockTolerance: CLOCK_TOLERANCE_S,
      requiredClaims: ["exp", "sub"],
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWKSTimeout || !(err instanceof joseErrors.JOSEError)) {
      console.error(`[gatehouse] fetching the keys of ${cfg.issuer} failed: ${(err as Error).message}`);
      throw new GatehouseError("UNAVAILABLE", "the identity provider's keys are unavailable");
    }
    throw new GatehouseError("UNAUTHENTICATED", `external token refused: ${whyRefused(err)}`);
  }
  const email = typeof claims.email === "string" ? claims.email : "";
  if (!email) throw new GatehouseError("UNAUTHENTICATED", "external token refused: it carries no email claim");
  const emailVerified = emailVerifiedOf(claims.email_verified);
  // An address the IdP says it did not verify could name someone else's Gatehouse account.
  if (emailVerified === false) throw new GatehouseError("UNAUTHENTICATED", "external token refused: email is not verified");
  return {
    issuer: cfg.issuer,
    subject: String(claims.sub),
    email,
    emailVerified,
    name: typeof claims.name === "string" ? claims.name : "",
    groups: claims[cfg.groupsClaim],
    issuedAt: typeof claims.iat === "number" ? new Date(claims.iat * 1000) : null,
    expiresAt: new Date(claims.exp! * 1000),
  };
}

/** Some IdPs (Cognito, older Azure AD B2C) send the flag as a string. */
export function emailVerifiedOf(claim: unknown): boolean | null {
  if (claim === true || claim === "true") return true;
  if (claim === false || claim === "false") return false;
  return null;
}

function whyRefused(err: unknown): string {
  if (err instanceof joseErrors.JWTExpired) return "token expired";
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `${err.claim} is not valid here`;
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return "signing algorithm not allowed";
  if (err instanceof joseErrors.JWKSNoMatchingKey) return "no key of the issuer matches the token's kid";
  if (err instanceof joseErrors.JWKSMultipleMatchingKeys) return "ambiguous key";
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return "invalid signature";
  if (err instanceof joseErrors.JWKSInvalid) return "the issuer's key set is malformed";
  return "invalid token";
}

type Jwks = ReturnType<typeof createRemoteJWKSet>;
interface Cached {
  jwks: Jwks;
  at: number;
}
const g = globalThis as { __gatehouseExternalJwks?: Map<string, Cached> };

/**
 * One remote key set per issuer, kept for an hour. jose refetches it itself when a token names an
 * unknown kid (at most every 30 s), so key rotation at the IdP needs no restart.
 */
async function jwksFor(cfg: ExternalOidcConfig): Promise<Jwks> {
  const cache = (g.__gatehouseExternalJwks ??= new Map());
  const key = `${cfg.issuer} ${cfg.jwksUrl ?? ""}`;
  const hit = cache.get(key);
  if (hit && Date.now() - hit.at < DISCOVERY_TTL_MS) return hit.jwks;
  const url = cfg.jwksUrl ? new URL(cfg.jwksUrl) : await discoverJwksUri(cfg.issuer);
  assertSafeUrl(url);
  const jwks = createRemoteJWKSet(url, { timeoutDuration: 5000, cooldownDuration: 30_000, cacheMaxAge: 600_000 });
  cache.set(key, { jwks, at: Date.now() });
  return jwks;
}

async function discoverJwksUri(issuer: string): Promise<URL> {
  const url = new URL(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`);
  assertSafeUrl(url);
  let doc: { issuer?: unknown; jwks_uri?: unknown };
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000), redirect: "error" });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    doc = (await res.json()) as typeof doc;
  } catch (err) {
    console.error(`[gatehouse] OIDC discovery at ${url} failed: ${(err as Error).message}`);
    throw new GatehouseError("UNAVAILABLE", "the identity provider's discovery document is unavailable");
  }
  // OpenID Connect Discovery §4.3: the document must name exactly the issuer we asked about.
  if (doc.issuer !== issuer || typeof doc.jwks_uri !== "string") {
    console.error(`[gatehouse] OIDC discovery at ${url}: issuer "${String(doc.issuer)}" does not match "${issuer}" or jwks_uri is missing`);
    throw new GatehouseError("UNAVAILABLE", "the identity provider's discovery document does not match the configured issuer");
  }
  return new URL(doc.jwks_uri);
}

/** Keys fetched over plain HTTP could be swapped in transit; allowed only on loopback (tests, sidecars). */
function assertSafeUrl(url: URL) {
  if (url.protocol === "https:") return;
  if (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return;
  throw new GatehouseError("UNAVAILABLE", `the identity provider's keys must be fetched over https (got ${url.origin})`);
}
