import { sessionCookie } from "@/lib/auth/cookie";

/**
 * The two short-lived cookies of a SAML console login, both HttpOnly, SameSite=Lax and scoped to
 * /api/auth. `request` holds the AuthnRequest id from the moment the browser leaves for the IdP;
 * `code` holds the login code the ACS issued. The next-auth "saml" provider needs both, and the
 * code is bound to the request id, so only the browser that started a login can finish it.
 */
export function samlCookieNames() {
  const { secure } = sessionCookie();
  const prefix = secure ? "__Secure-" : "";
  return { request: `${prefix}gatehouse.saml-request`, code: `${prefix}gatehouse.saml-code`, secure };
}

export function samlCookie(name: string, value: string, maxAgeSeconds: number): string {
  const secure = samlCookieNames().secure ? "; Secure" : "";
  return `${name}=${encodeURIComponent(value)}; Path=/api/auth; Max-Age=${maxAgeSeconds}; HttpOnly; SameSite=Lax${secure}`;
}

export function readCookie(header: string | null | undefined, name: string): string | null {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return null;
      }
    }
  }
  return null;
}
