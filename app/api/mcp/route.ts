import { handleMcpRequest } from "@/lib/mcp/http";

/**
 * MCP endpoint (Streamable HTTP). It authenticates every request itself with the bearer token
 * (see lib/mcp/http.ts: a 401 must carry a Bearer challenge, and cookies are never accepted),
 * which is why it is listed in PUBLIC_ROUTES of tests/integration/route-auth.test.ts.
 */
export const dynamic = "force-dynamic";

export const POST = (req: Request) => handleMcpRequest(req);
export const GET = (req: Request) => handleMcpRequest(req);
export const DELETE = (req: Request) => handleMcpRequest(req);
