import { NextResponse } from "next/server";
import { getDb } from "@/db/client";
import { clientAddressOf } from "@/lib/http/client-address";
import { bodyText, publicRoute } from "@/lib/http/route";
import { exchangeToken, OAuthError } from "@/lib/services/tokens/exchange";

/**
 * RFC 8693 token exchange endpoint. Public by nature: the subject_token authenticates the call —
 * a Gatehouse token, or an OIDC ID/access token from the configured issuer.
 * Accepts application/x-www-form-urlencoded (the RFC) or JSON; errors in RFC 6749 §5.2 form.
 */
export const POST = publicRoute(async (req) => {
  const type = req.headers.get("content-type") ?? "";
  const text = await bodyText(req, 64 * 1024).catch(() => null);
  if (text === null) return NextResponse.json({ error: "invalid_request", error_description: "request too large" }, { status: 400 });
  let input: unknown;
  try {
    input = type.includes("application/json") ? JSON.parse(text) : Object.fromEntries(new URLSearchParams(text));
  } catch {
    return NextResponse.json({ error: "invalid_request", error_description: "body is not valid JSON" }, { status: 400 });
  }
  try {
    return NextResponse.json(await exchangeToken(await getDb(), input, clientAddressOf(req.headers)), { headers: { "cache-control": "no-store" } });
  } catch (err) {
    if (err instanceof OAuthError) {
      const status = err.error === "temporarily_unavailable" ? 503 : 400;
      return NextResponse.json({ error: err.error, error_description: err.description }, { status, headers: { "cache-control": "no-store" } });
    }
    throw err;
  }
});
