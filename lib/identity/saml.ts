import fs from "node:fs";
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from "@node-saml/node-saml";
import type { Db } from "@/db/client";
import type { GatehouseConfig } from "@/lib/config/env";
import { GatehouseError } from "@/lib/gateway/core/types";
import { consumeRequestId, isRequestIdConsumed, newRequestId, requestIdIssuedAt, REQUEST_TTL_MS } from "./saml-request";

/**
 * SP-initiated SAML 2.0 Web SSO (HTTP-Redirect AuthnRequest, HTTP-POST Response) with
 * @node-saml/node-saml, which checks the XML signature with the configured IdP certificate
 * (signed references only, one assertion only), Conditions NotBefore/NotOnOrAfter, the Audience
 * and SubjectConfirmationData times. On top of it Gatehouse requires what node-saml leaves out:
 * the SIGNED assertion must come from the configured IdP (Issuer), be bound to our request
 * (SubjectConfirmationData InResponseTo) and to our ACS (Recipient), and each request id is
 * honoured once, across processes.
 */
export type SamlConfig = NonNullable<GatehouseConfig["saml"]>;

export interface SamlIdentity {
  requestId: string;
  nameId: string;
  /** the NameID when it is stable (any format but transient), else "": the key an account is linked by */
  subject: string;
  issuer: string;
  email: string;
  name: string;
  groups: unknown;
}

const TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient";

export function acsUrl(publicUrl: string): string {
  return `${publicUrl}/api/auth/saml/acs`;
}

/** GATEHOUSE_SAML_IDP_CERT holds PEM text (or its base64 body), or names a PEM file. */
function idpCertOf(value: string): string {
  if (value.includes("-----BEGIN")) return value;
  if (!/^[A-Za-z0-9+/=\s]+$/.test(value) || fs.existsSync(value)) return fs.readFileSync(value, "utf8");
  return value;
}

function samlFor(cfg: SamlConfig, publicUrl: string, cacheProvider: CacheProvider, requestId?: string): SAML {
  return new SAML({
    entryPoint: cfg.entryPoint,
    issuer: cfg.issuer,
    audience: cfg.issuer,
    callbackUrl: acsUrl(publicUrl),
    idpCert: idpCertOf(cfg.idpCert),
    ...(cfg.idpIssuer ? { idpIssuer: cfg.idpIssuer } : {}),
    // The assertion must be signed; a signature over the whole Response is welcome but not
    // required (many IdPs sign only the assertion) — the bindings below live inside the assertion.
    wantAssertionsSigned: true,
    wantAuthnResponseSigned: false,
    validateInResponseTo: ValidateInResponseTo.always,
    requestIdExpirationPeriodMs: REQUEST_TTL_MS,
    acceptedClockSkewMs: 30_000,
    cacheProvider,
    // Asking for PasswordProtectedTransport makes IdPs that used MFA or SSO refuse the login.
    disableRequestedAuthnContext: true,
    generateUniqueId: () => requestId ?? newRequestId(),
  });
}

/** The IdP redirect URL for a new login, and the request id it carries (for the browser binding cookie). */
export async function samlLoginRedirect(cfg: SamlConfig, publicUrl: string, relayState: string): Promise<{ url: string; requestId: string }> {
  const requestId = newRequestId();
  const url = await samlFor(cfg, publicUrl, statelessCache(), requestId).getAuthorizeUrlAsync(relayState, undefined, {});
  return { url, requestId };
}

/** Validates a POSTed SAMLResponse completely, consuming its request id; throws UNAUTHENTICATED with the reason. */
export async function validateSamlResponse(db: Db, cfg: SamlConfig, publicUrl: string, samlResponse: string): Promise<SamlIdentity> {
  const consumption = { attempted: false, won: false, replayed: false };
  let profile: Profile | null;
  try {
    ({ profile } = await samlFor(cfg, publicUrl, consumingCache(db, consumption)).validatePostResponseAsync({ SAMLResponse: samlResponse }));
  } catch (err) {
    const why = consumption.replayed ? "already used (replay)" : (err as Error).message;
    throw new GatehouseError("UNAUTHENTICATED", `SAML response refused: ${why}`);
  }
  if (!profile) throw new GatehouseError("UNAUTHENTICATED", "SAML response refused: no assertion");
  // node-saml checks idpIssuer only on logout messages; the assertion's Issuer is signed, check it here.
  if (cfg.idpIssuer && profile.issuer !== cfg.idpIssuer) throw new GatehouseError("UNAUTHENTICATED", `SAML response refused: unknown issuer "${String(profile.issuer).slice(0, 200)}"`);
  const requestId = typeof profile.inResponseTo === "string" ? profile.inResponseTo : "";
  assertBoundToRequest(profile, requestId, acsUrl(publicUrl));
  // node-saml burns the id on most paths; when it did not, burn it here. Either way exactly one
  // POST of a given response can win the insert, so a replay (even a concurrent one) fails.
  if (!consumption.attempted) consumption.won = await consumeRequestId(db, requestId);
  if (!consumption.won) throw new GatehouseError("UNAUTHENTICATED", "SAML response refused: already used");
  return {
    requestId,
    nameId: profile.nameID,
    subject: profile.nameIDFormat === TRANSIENT ? "" : (profile.nameID ?? ""),
    issuer: profile.issuer,
    email: emailOf(profile, cfg.emailAttribute),
    name: firstString(attribute(profile, "displayName") ?? attribute(profile, "name")) ?? "",
    groups: attribute(profile, cfg.groupsAttribute),
  };
}

type XmlNode = { $?: Record<string, string>; [child: string]: unknown };

/** The signed assertion must name our ACS and this very request in a bearer SubjectConfirmation. */
function assertBoundToRequest(profile: Profile, requestId: string, acs: string) {
  const assertion = (profile.getAssertion?.() as { Assertion?: XmlNode } | undefined)?.Assertion;
  const subject = (assertion?.Subject as XmlNode[] | undefined)?.[0];
  const confirmations = (subject?.SubjectConfirmation as XmlNode[] | undefined) ?? [];
  const bound = confirmations.some((c) => {
    const data = (c.SubjectConfirmationData as XmlNode[] | undefined)?.[0]?.$;
    return c.$?.Method === "urn:oasis:names:tc:SAML:2.0:cm:bearer" && data?.Recipient === acs && !!requestId && data?.InResponseTo === requestId;
  });
  if (!bound) throw new GatehouseError("UNAUTHENTICATED", "SAML response refused: the assertion is not addressed to this login (Recipient/InResponseTo)");
}

function attribute(profile: Profile, name: string): unknown {
  const attrs = (profile.attributes ?? {}) as Record<string, unknown>;
  return attrs[name] ?? (profile as Record<string, unknown>)[name];
}

function firstString(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === "string" && s ? s : undefined;
}

function emailOf(profile: Profile, attr: string): string {
  const fromAttr = firstString(attribute(profile, attr)) ?? firstString(profile.email) ?? firstString(profile.mail);
  if (fromAttr) return fromAttr;
  return profile.nameID?.includes("@") ? profile.nameID : "";
}

/** For building requests: ids prove themselves (HMAC), so starting a login stores nothing. */
function statelessCache(): CacheProvider {
  return {
    saveAsync: async (_key, value) => ({ value, createdAt: Date.now() }),
    getAsync: async () => null,
    removeAsync: async () => null,
  };
}

/**
 * For validating: an id is "cached" while its MAC checks, it is younger than REQUEST_TTL_MS and
 * not yet consumed; "removing" it consumes it, and we remember whether this request won.
 */
function consumingCache(db: Db, consumption: { attempted: boolean; won: boolean; replayed: boolean }): CacheProvider {
  return {
    saveAsync: async (_key, value) => ({ value, createdAt: Date.now() }),
    async getAsync(key) {
      const issuedAt = requestIdIssuedAt(key);
      if (issuedAt === null) return null;
      if (await isRequestIdConsumed(db, key)) {
        consumption.replayed = true;
        return null;
      }
      return new Date(issuedAt).toISOString();
    },
    async removeAsync(key) {
      if (!key) return null;
      const won = await consumeRequestId(db, key);
      if (!consumption.attempted) consumption.won = won;
      consumption.attempted = true;
      return won ? key : null;
    },
  };
}
