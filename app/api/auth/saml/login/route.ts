import { NextResponse } from "next/server";
import { loadConfig } from "@/lib/config/env";
import { publicRoute } from "@/lib/http/route";
import { samlLoginRedirect } from "@/lib/identity/saml";
import { safeCallbackPath } from "@/lib/http/callback-path";
import { samlCookie, samlCookieNames } from "@/lib/identity/saml-cookies";
import { REQUEST_TTL_MS } from "@/lib/identity/saml-request";

/**
 * Starts an SP-initiated SAML login: redirects to the IdP with a signed-by-us request id and
 * remembers that id in this browser (the only state a login start creates). RelayState carries
 * the same-site path to return to.
 */
export const GET = publicRoute(async (req) => {
  const cfg = loadConfig();
  if (!cfg.saml) return NextResponse.json({ error: { code: "NOT_FOUND", message: "SAML login is not configured" } }, { status: 404 });
  const callbackUrl = safeCallbackPath(new URL(req.url).searchParams.get("callbackUrl"));
  const { url, requestId } = await samlLoginRedirect(cfg.saml, cfg.publicUrl, callbackUrl);
  const res = NextResponse.redirect(url, 302);
  res.headers.append("set-cookie", samlCookie(samlCookieNames().request, requestId, REQUEST_TTL_MS / 1000));
  res.headers.set("cache-control", "no-store");
  return res;
});
