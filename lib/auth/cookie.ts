import { createHmac } from "node:crypto";
import { loadConfig } from "@/lib/config/env";
import { masterKey } from "@/lib/crypto/secrets";

/**
 * The console session cookie: HttpOnly, SameSite=Lax, and Secure (with the __Secure- prefix)
 * whenever the console is served over https — i.e. anywhere off loopback in a real deployment.
 */
export function sessionCookie() {
  const secure = loadConfig().publicUrl.startsWith("https://");
  return { name: secure ? "__Secure-gatehouse.session" : "gatehouse.session", secure };
}

/** The cookie-signing secret: NEXTAUTH_SECRET, else derived from the master key. */
export function sessionSecret(): string {
  if (process.env.NEXTAUTH_SECRET) return process.env.NEXTAUTH_SECRET;
  return createHmac("sha256", masterKey()).update("nextauth-session").digest("base64url");
}
