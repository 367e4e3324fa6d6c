import path from "node:path";

/** The external contract's environment, read once. Keep in sync with README "Configuration". */
function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got "${raw}"`);
  return n;
}

export function loadConfig() {
  const dataDir = path.resolve(/*turbopackIgnore: true*/ process.env.GATEHOUSE_DATA_DIR ?? "./data");
  const bind = process.env.GATEHOUSE_BIND ?? "127.0.0.1";
  const port = int("PORT", 3000);
  return {
    dataDir,
    bind,
    port,
    databaseUrl: process.env.DATABASE_URL || null,
    publicUrl: (process.env.GATEHOUSE_PUBLIC_URL ?? `http://${bind === "0.0.0.0" ? "127.0.0.1" : bind}:${port}`).replace(/\/$/, ""),
    ports: {
      postgres: int("GATEHOUSE_PG_PORT", 15432),
      mysql: int("GATEHOUSE_MYSQL_PORT", 13306),
      ssh: int("GATEHOUSE_SSH_PORT", 2222),
      kubernetes: int("GATEHOUSE_K8S_PORT", 16443),
      http: int("GATEHOUSE_HTTP_PORT", 18080),
    },
    adminEmail: process.env.GATEHOUSE_ADMIN_EMAIL ?? "admin@gatehouse.local",
    adminPassword: process.env.GATEHOUSE_ADMIN_PASSWORD ?? null,
    /** base64 32-byte key for upstream secrets; otherwise generated into the data dir */
    secretKey: process.env.GATEHOUSE_SECRET_KEY ?? null,
    demo: process.env.GATEHOUSE_DEMO !== "0",
    demoPort: int("GATEHOUSE_DEMO_PG_PORT", 15499),
    oidc: process.env.GATEHOUSE_OIDC_ISSUER
      ? {
          issuer: process.env.GATEHOUSE_OIDC_ISSUER,
          clientId: process.env.GATEHOUSE_OIDC_CLIENT_ID ?? "",
          clientSecret: process.env.GATEHOUSE_OIDC_CLIENT_SECRET ?? "",
          groupsClaim: process.env.GATEHOUSE_OIDC_GROUPS_CLAIM ?? "groups",
          name: process.env.GATEHOUSE_OIDC_NAME ?? "SSO",
          /** `aud` that external tokens presented to /api/v1/token must carry; ID tokens carry the client id */
          audience: process.env.GATEHOUSE_OIDC_AUDIENCE || process.env.GATEHOUSE_OIDC_CLIENT_ID || "",
          /** otherwise discovered from <issuer>/.well-known/openid-configuration */
          jwksUrl: process.env.GATEHOUSE_OIDC_JWKS_URL || null,
          /** token exchange only: create an unknown user on first use (console OIDC login always does) */
          autoCreateUsers: process.env.GATEHOUSE_OIDC_AUTO_CREATE_USERS === "1",
          /** map emails without `email_verified: true` to accounts (for IdPs that never send the claim) */
          trustUnverifiedEmail: process.env.GATEHOUSE_OIDC_TRUST_UNVERIFIED_EMAIL === "1",
        }
      : null,
    saml:
      process.env.GATEHOUSE_SAML_ENTRY_POINT && process.env.GATEHOUSE_SAML_ISSUER && process.env.GATEHOUSE_SAML_IDP_CERT
        ? {
            entryPoint: process.env.GATEHOUSE_SAML_ENTRY_POINT,
            /** our SP entity id, and the Audience every assertion must name */
            issuer: process.env.GATEHOUSE_SAML_ISSUER,
            /** PEM text, or a path to a PEM file */
            idpCert: process.env.GATEHOUSE_SAML_IDP_CERT,
            /** the IdP's entity id; when set, assertions from any other issuer are refused */
            idpIssuer: process.env.GATEHOUSE_SAML_IDP_ISSUER || null,
            name: process.env.GATEHOUSE_SAML_NAME ?? "SAML",
            emailAttribute: process.env.GATEHOUSE_SAML_EMAIL_ATTRIBUTE ?? "email",
            groupsAttribute: process.env.GATEHOUSE_SAML_GROUPS_ATTRIBUTE ?? "groups",
            autoCreateUsers: process.env.GATEHOUSE_SAML_AUTO_CREATE_USERS !== "0",
            /** link an existing account by the email attribute alone (SAML has no email_verified) */
            trustEmail: process.env.GATEHOUSE_SAML_TRUST_EMAIL === "1",
          }
        : null,
  };
}

export type GatehouseConfig = ReturnType<typeof loadConfig>;
