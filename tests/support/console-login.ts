/**
 * Signs in through next-auth's credentials flow as the browser does (CSRF cookie, then the
 * credentials callback); returns the response status and the Cookie header it earned.
 */
export async function consoleSignIn(url: string, email: string, password: string): Promise<{ ok: boolean; cookie: string }> {
  const jar = new Map<string, string>();
  const keep = (res: Response) => {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
  };
  const csrfRes = await fetch(`${url}/api/auth/csrf`);
  keep(csrfRes);
  const { csrfToken } = await csrfRes.json();
  const header = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
  const res = await fetch(`${url}/api/auth/callback/credentials`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: header() },
    body: new URLSearchParams({ csrfToken, email, password, json: "true" }),
  });
  keep(res);
  return { ok: [...jar.keys()].some((k) => k.endsWith("gatehouse.session")), cookie: header() };
}
