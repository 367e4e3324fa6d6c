import { decode, encode } from "next-auth/jwt";
import { CookieBrowser } from "./cookie-jar";

/**
 * A console session as a browser holds it: the next-auth cookie from a real credentials sign-in
 * (CSRF token first), for driving cookie-authenticated routes and WebSockets without a browser.
 */
export interface ConsoleCookie {
  /** the Cookie header to send */
  header: string;
  /** the session cookie's name and value (a signed, encrypted JWT) */
  name: string;
  value: string;
}

export async function consoleSignIn(url: string, email: string, password: string): Promise<ConsoleCookie> {
  const browser = new CookieBrowser();
  const { csrfToken } = await (await browser.fetch(`${url}/api/auth/csrf`)).json();
  const res = await browser.fetch(`${url}/api/auth/callback/credentials`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  const name = [...browser.jar.keys()].find((k) => k.endsWith("gatehouse.session"));
  if (!name) throw new Error(`console login failed for ${email}: ${res.status}`);
  return { header: browser.cookie(), name, value: browser.jar.get(name)! };
}

/** Signs out as the console's Sign out button does (POST /api/auth/signout with the CSRF token). */
export async function consoleSignOut(url: string, cookie: ConsoleCookie): Promise<number> {
  const { csrfToken } = await (await fetch(`${url}/api/auth/csrf`, { headers: { cookie: cookie.header } })).json();
  const res = await fetch(`${url}/api/auth/signout`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookie.header },
    body: new URLSearchParams({ csrfToken, json: "true" }),
  });
  return res.status;
}

/**
 * The same session re-signed to expire in `seconds`, as the cookie of a sign-in that long before
 * its 12 hours ran out would be; `secret` is the server's NEXTAUTH_SECRET.
 */
export async function expiringCopy(cookie: ConsoleCookie, secret: string, seconds: number): Promise<ConsoleCookie> {
  const claims = await decode({ token: decodeURIComponent(cookie.value), secret });
  if (!claims) throw new Error("the session cookie did not decode with this secret");
  const { exp: _exp, iat: _iat, jti: _jti, ...rest } = claims as Record<string, unknown>;
  const value = encodeURIComponent(await encode({ token: rest, secret, maxAge: seconds }));
  return { name: cookie.name, value, header: `${cookie.name}=${value}` };
}
