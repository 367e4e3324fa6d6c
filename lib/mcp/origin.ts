import { loadConfig } from "@/lib/config/env";

/**
 * DNS rebinding: a page on another site can make the victim's browser resolve its own host name
 * to Gatehouse's address and then talk to /api/mcp as that site. Agents send no Origin header; a
 * browser always does on a cross-origin POST. So a request whose Origin is not the console's
 * own (GATEHOUSE_PUBLIC_URL) is refused before anything else, whatever it carries: comparing
 * with the Host header would not do, since after a rebinding Host names the attacker's site too.
 * The MCP Streamable HTTP transport requires this check ("servers MUST validate the Origin").
 */
export function foreignOrigin(req: Request): string | null {
  const origin = req.headers.get("origin");
  if (origin === null) return null;
  return origin === new URL(loadConfig().publicUrl).origin ? null : origin;
}
