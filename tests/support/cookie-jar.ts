/** A browser's cookie jar, just enough for sign-in flows driven with fetch (redirects by hand). */
export class CookieBrowser {
  jar = new Map<string, string>();

  keep(res: Response) {
    for (const c of res.headers.getSetCookie()) {
      const [pair] = c.split(";");
      const i = pair.indexOf("=");
      const gone = /max-age=0\b/i.test(c) || pair.slice(i + 1) === "";
      if (gone) this.jar.delete(pair.slice(0, i));
      else this.jar.set(pair.slice(0, i), pair.slice(i + 1));
    }
    return res;
  }

  cookie() {
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ");
  }

  async fetch(url: string, init: RequestInit = {}) {
    return this.keep(await fetch(url, { redirect: "manual", ...init, headers: { ...(init.headers as Record<string, string>), cookie: this.cookie() } }));
  }
}
