import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { listConnections } from "@/db/queries/connections";
import { inScope, safely, textResult, type McpContext } from "../context";

/**
 * list_connections: what this token may reach. Only name, type, tags and description leave:
 * never the upstream address, username or secret (an agent has no use for them, and they
 * would let it try to go around Gatehouse).
 */
export function registerListConnections(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "list_connections",
    {
      title: "List connections",
      description: "Lists the connections this token may use through Gatehouse (name, type, tags, description).",
      annotations: { readOnlyHint: true },
    },
    () =>
      safely("list_connections", async () => {
        const rows = await listConnections(ctx.db);
        const connections = rows.filter((r) => inScope(ctx.principal, r.name)).map((r) => ({ name: r.name, type: r.type, tags: r.tags, description: r.description }));
        return textResult(JSON.stringify({ connections }), { connections });
      }),
  );
}
