import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type GatehouseProcess, startGatehouse, teardown } from "../support/gatehouse";

/**
 * The console session cookie as the browser's login flow sets it (the login page posts the
 * credentials to next-auth's callback with the CSRF token): HttpOnly, SameSite=Lax, Path=/, no
 * Domain; Secure with the __Secure- prefix when the public URL is https. Plain http off loopback
 * is warned about at start.
 */
interface SetCookie {
  name: string;
  value: string;
  attrs: Record<string, string | true>;
}

function parseSetCookie(line: string): SetCookie {
  const [pair, ...rest] = line.split(";").map((s) => s.trim());
  const i = pair.indexOf("=");
  const attrs: Record<string, string | true> = {};
  for (const a of rest) {
    const j = a.indexOf("=");
    attrs[(j < 0 ? a : a.slice(0, j)).toLowerCase()] = j < 0 ? true : a.slice(j + 1);
  }
  return { name: pair.slice(0, i), value: pair.slice(i + 1), attrs };
}

/** The login page's flow, by hand: every cookie set on the way, as the server wrote it. */
async function signInCookies(gh: GatehouseProcess, email: string, password: string): Promise<SetCookie[]> {
  const jar = new Map<string, string>();
  const seen: SetCookie[] = [];
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const c = parseSetCookie(line);
      seen.push(c);
      jar.set(c.name, c.value);
    }
    return res;
  };
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const { csrfToken } = await keep(await fetch(`${gh.url}/api/auth/csrf`)).json();
  const res = keep(
    await fetch(`${gh.url}/api/auth/callback/credentials`, {
      method: "POST",
      redirect: "manual",
      headers: { "content-type": "application/x-www-form-urlencoded", cookie: cookie() },
      body: new URLSearchParams({ csrfToken, email, password, callbackUrl: "/sessions", json: "true" }),
    }),
  );
  expect(res.status, await res.text()).toBeLessThan(400);
  // the cookie is the console session: the API takes it
  const me = await fetch(`${gh.url}/api/v1/me`, { headers: { cookie: cookie() } });
  expect(me.status).toBe(200);
  return seen;
}

const sessionCookieOf = (cookies: SetCookie[]) => {
  const found = cookies.filter((c) => c.name.endsWith("gatehouse.session") && c.value);
  expect(found).toHaveLength(1);
  return found[0];
};

describe("console session cookie", () => {
  let https: GatehouseProcess;
  let insecure: GatehouseProcess;

  beforeAll(async () => {
    [https, insecure] = await Promise.all([
      startGatehouse({ demo: false, env: { GATEHOUSE_PUBLIC_URL: "https://gatehouse.example.test" } }),
      startGatehouse({ demo: false, env: { GATEHOUSE_PUBLIC_URL: "http://gatehouse.example.test" } }),
    ]);
  }, 120_000);
  afterAll(async () => {
    await teardown(https);
    await teardown(insecure);
  });

  it("is __Secure-, Secure, HttpOnly, SameSite=Lax and Path=/ when the public URL is https", async () => {
    const cookies = await signInCookies(https, https.adminEmail, https.adminPassword);
    const session = sessionCookieOf(cookies);
    expect(session.name).toBe("__Secure-gatehouse.session");
    expect(session.attrs).toMatchObject({ httponly: true, secure: true, path: "/", samesite: "Lax" });
    expect(session.attrs.domain).toBeUndefined();
    // the sign-in's own cookies (CSRF token, callback URL) are Secure too
    for (const c of cookies) expect({ name: c.name, secure: c.attrs.secure }).toEqual({ name: c.name, secure: true });
    expect(cookies.find((c) => c.name.includes("csrf-token"))?.name).toMatch(/^__Host-/);
  });

  it("plain http off loopback is warned about at start, and its cookie cannot be Secure", async () => {
    expect(insecure.output()).toMatch(/INSECURE: the public URL http:\/\/gatehouse\.example\.test is not on loopback.*GATEHOUSE_PUBLIC_URL=https:\/\//);
    const session = sessionCookieOf(await signInCookies(insecure, insecure.adminEmail, insecure.adminPassword));
    expect(session.name).toBe("gatehouse.session");
    expect(session.attrs).toMatchObject({ httponly: true, path: "/", samesite: "Lax" });
    expect(session.attrs.secure).toBeUndefined();
  });
});
