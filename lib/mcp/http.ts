import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { getDb } from "@/db/client";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { clientAddressOf } from "@/lib/http/client-address";
import { authenticateToken } from "@/lib/gateway/core/authenticate";
import { foreignOrigin } from "./origin";
import { createMcpServer } from "./server";

/**
 * /api/mcp: MCP over Streamable HTTP, stateless. Every HTTP request carries
 * `Authorization: Bearer <Gatehouse token>` and is authenticated on its own, so a token revoked
 * between two tool calls stops the very next one. Cookies are ignored on purpose: a console
 * cookie sent by a browser from another site must never be able to run SQL (CSRF).
 *
 * Stateless mode (no Mcp-Session-Id): each POST gets a fresh server + transport, nothing to
 * hijack or leak between callers, and any Gatehouse node can answer any request. GET (the
 * optional server→client stream) and DELETE (session end) have no meaning without sessions: 405.
 * A browser Origin other than the console's own is refused first (origin.ts: DNS rebinding).
 */
const CHALLENGE = 'Bearer realm="gatehouse"';

export async function handleMcpRequest(req: Request): Promise<Response> {
  if (foreignOrigin(req) !== null) {
    return Response.json({ jsonrpc: "2.0", error: { code: -32000, message: "Forbidden: this MCP endpoint does not serve browser pages of other origins" }, id: null }, { status: 403 });
  }
  const auth = await authenticate(req);
  if (auth instanceof Response) return auth;
  if (req.method !== "POST") {
    return Response.json({ jsonrpc: "2.0", error: { code: -32000, message: "Method not allowed: this MCP endpoint is stateless; use POST" }, id: null }, { status: 405, headers: { allow: "POST" } });
  }
  const server = createMcpServer({ db: await getDb(), principal: auth, address: clientAddressOf(req.headers) });
  const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  const close = () => void server.close().catch(() => {});
  await server.connect(transport);
  let res: Response;
  try {
    res = await transport.handleRequest(req);
  } catch (err) {
    close();
    throw err;
  }
  if (!res.body) {
    close();
    return res;
  }
  // Free the server when the response stream ends or the client goes away. A held call is not
  // tied to this: it continues in the background (see gateway-call.ts) until decided or expired.
  req.signal?.addEventListener("abort", close, { once: true });
  const body = res.body.pipeThrough(new TransformStream({ flush: close }));
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** 401 with a Bearer challenge (RFC 6750 §3) when the token is missing or not valid here. */
async function authenticate(req: Request): Promise<Principal | Response> {
  const header = req.headers.get("authorization") ?? "";
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  if (!m) return unauthorized("missing bearer token", false);
  try {
    // The same authentication step as every gateway (audited failures, gateway:use), with the
    // default audience; tickets are refused because MCP re-authenticates every request.
    return await authenticateToken(await getDb(), m[1], { protocol: "mcp", address: clientAddressOf(req.headers), allowTicket: false });
  } catch (err) {
    if (err instanceof GatehouseError && err.code === "UNAUTHENTICATED") return unauthorized(err.message, true);
    if (err instanceof GatehouseError && err.code === "FORBIDDEN") return Response.json({ error: { code: "FORBIDDEN", message: err.message } }, { status: 403 });
    console.error("[mcp] authentication failed unexpectedly:", err);
    return Response.json({ error: { code: "UNAVAILABLE", message: "authentication is unavailable" } }, { status: 503 });
  }
}

function unauthorized(message: string, invalid: boolean): Response {
  const challenge = invalid ? `${CHALLENGE}, error="invalid_token", error_description="${message.replace(/["\\]/g, "")}"` : CHALLENGE;
  return Response.json({ error: { code: "UNAUTHENTICATED", message } }, { status: 401, headers: { "www-authenticate": challenge } });
}
