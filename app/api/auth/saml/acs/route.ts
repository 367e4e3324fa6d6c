import { NextResponse } from "next/server";
import { getDb } from "@/db/client";
import { loadConfig } from "@/lib/config/env";
import { GatehouseError } from "@/lib/gateway/core/types";
import { clientAddressOf } from "@/lib/http/client-address";
import { bodyText, publicRoute } from "@/lib/http/route";
import { safeCallbackPath } from "@/lib/http/callback-path";
import { samlCookie, samlCookieNames } from "@/lib/identity/saml-cookies";
import { samlLogin } from "@/lib/services/users/saml-login";

const MAX_BODY = 512 * 1024;

/**
 * SAML Assertion Consumer Service (HTTP-POST binding). Public by nature: the IdP's signed
 * response authenticates the call, and it arrives as a cross-site POST, so no cookie of ours is
 * sent here. A good response leaves a login-code cookie and sends the browser to /login, where
 * the "saml" next-auth provider (same-origin, with the request cookie) turns it into a session.
 */
export const POST = publicRoute(async (req) => {
  const cfg = loadConfig();
  if (!cfg.saml) return NextResponse.json({ error: { code: "NOT_FOUND", message: "SAML login is not configured" } }, { status: 404 });
  const refused = (error: string) => redirect(`${cfg.publicUrl}/login?error=${error}`);
  const text = await bodyText(req, MAX_BODY).catch(() => null);
  if (text === null) return refused("SamlRefused");
  const form = new URLSearchParams(text);
  const samlResponse = form.get("SAMLResponse");
  if (!samlResponse) return refused("SamlRefused");
  try {
    const { code } = await samlLogin(await getDb(), cfg.saml, cfg.publicUrl, samlResponse, clientAddressOf(req.headers));
    const back = safeCallbackPath(form.get("RelayState"));
    const res = redirect(`${cfg.publicUrl}/login?saml=1&callbackUrl=${encodeURIComponent(back)}`);
    res.headers.append("set-cookie", samlCookie(samlCookieNames().code, code, 120));
    return res;
  } catch (err) {
    if (err instanceof GatehouseError) return refused("SamlRefused");
    throw err;
  }
});

/** 303: the browser follows a POST with a GET. */
function redirect(url: string) {
  const res = NextResponse.redirect(url, 303);
  res.headers.set("cache-control", "no-store");
  return res;
}
