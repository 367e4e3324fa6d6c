/**
 * Whether the console is served safely as configured. The console cookie is `Secure` (and
 * `__Secure-` prefixed) only when the public URL is https: served over plain http anywhere but
 * loopback, that cookie — a 12-hour console session, an admin's included — and every password
 * typed into the login page cross the network in clear, readable and replayable by anyone on the
 * path. That is said loudly at every start, not refused: `GATEHOUSE_BIND` is part of the external contract, and a start that stops on it
 * would break deployments that terminate TLS elsewhere without telling Gatehouse.
 */
export interface PublicUrlCheck {
  /** what is printed, loudly, at start; absent when the console is served safely */
  warn?: string;
}

const LOOPBACK_HOSTS = new Set(["localhost", "::1", "[::1]"]);

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase();
  return LOOPBACK_HOSTS.has(h) || /^127(\.\d{1,3}){3}$/.test(h) || h.endsWith(".localhost");
}

export function checkPublicUrl(cfg: { publicUrl: string; bind: string }): PublicUrlCheck {
  let url: URL;
  try {
    url = new URL(cfg.publicUrl);
  } catch {
    return { warn: `GATEHOUSE_PUBLIC_URL is not a URL: "${cfg.publicUrl}"; links in notifications will not work` };
  }
  if (url.protocol === "https:") return {};
  if (url.protocol !== "http:") return { warn: `GATEHOUSE_PUBLIC_URL should be https:// (or http:// on loopback), not "${cfg.publicUrl}"` };
  const offLoopback = [!isLoopbackHost(url.hostname) && `the public URL ${cfg.publicUrl} is not on loopback`, !isLoopbackHost(cfg.bind) && `the console listens on ${cfg.bind} (GATEHOUSE_BIND), not only on loopback`].filter(Boolean);
  if (!offLoopback.length) return {};
  return {
    warn:
      `INSECURE: ${offLoopback.join(" and ")}, but it is served over plain http: console session cookies (which cannot be Secure without https) ` +
      `and passwords cross the network in clear. Serve it over https (TLS at a reverse proxy in front of Gatehouse) and set GATEHOUSE_PUBLIC_URL=https://...`,
  };
}
