/**
 * Whether the console may be served as configured. The console cookie is `Secure` (and
 * `__Secure-` prefixed) only when the public URL is https: served over plain http anywhere but
 * loopback, that cookie — a 12-hour console session, an admin's included — and every password
 * typed into the login page would cross the network in clear, readable and replayable by anyone
 * on the path. So that is refused at start, unless the operator says in so many words that they
 * accept it (then it is warned about at every start), as Teleport refuses to serve its web UI
 * without TLS unless told `--insecure`.
 */
export interface PublicUrlCheck {
  /** why the start is refused */
  refuse?: string;
  /** what is printed, loudly, when running anyway */
  warn?: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return LOOPBACK_HOSTS.has(h) || /^127(\.\d{1,3}){3}$/.test(h) || h.endsWith(".localhost");
}

export function checkPublicUrl(cfg: { publicUrl: string; bind: string }, allowInsecureHttp: boolean): PublicUrlCheck {
  let url: URL;
  try {
    url = new URL(cfg.publicUrl);
  } catch {
    return { refuse: `GATEHOUSE_PUBLIC_URL is not a URL: "${cfg.publicUrl}"` };
  }
  if (url.protocol === "https:") return {};
  if (url.protocol !== "http:") return { refuse: `GATEHOUSE_PUBLIC_URL must be https:// (or http:// on loopback), got "${cfg.publicUrl}"` };
  const offLoopback = [!isLoopbackHost(url.hostname) && `the public URL ${cfg.publicUrl} is not on loopback`, !isLoopbackHost(cfg.bind) && `the console listens on ${cfg.bind} (GATEHOUSE_BIND), not only on loopback`].filter(Boolean);
  if (!offLoopback.length) return {};
  const why = `${offLoopback.join(" and ")}, but it is served over plain http: console session cookies (which cannot be Secure without https) and passwords would cross the network in clear`;
  if (allowInsecureHttp) return { warn: `INSECURE: ${why}. Running anyway because GATEHOUSE_ALLOW_INSECURE_HTTP=1.` };
  return {
    refuse: `${why}. Serve it over https (TLS at a reverse proxy in front of Gatehouse) and set GATEHOUSE_PUBLIC_URL=https://...; or set GATEHOUSE_ALLOW_INSECURE_HTTP=1 to run this way anyway (a test network, never production).`,
  };
}
