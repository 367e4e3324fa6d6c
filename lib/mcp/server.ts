import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { CancelledNotificationSchema } from "@modelcontextprotocol/sdk/types.js";
import type { McpContext } from "./context";
import { cancelCall } from "./in-flight";
import { registerListConnections } from "./tools/list-connections";
import { registerRequestAccess } from "./tools/request-access";
import { registerRunSql } from "./tools/run-sql";
import { registerRunSshCommand } from "./tools/run-ssh-command";
import { registerWaitForApproval } from "./tools/wait-for-approval";

/**
 * The Gatehouse MCP server for one authenticated HTTP request. Built per request (stateless
 * Streamable HTTP): the principal is bound into every tool at construction, so no tool can act
 * for anyone but the token's holder, and nothing survives between requests except parked holds.
 */
export function createMcpServer(ctx: McpContext): McpServer {
  const server = new McpServer(
    { name: "gatehouse", version: "0.1.0" },
    {
      // `logging`: held calls announce "held for approval #N: <url>" on their response stream.
      capabilities: { logging: {} },
      instructions:
        "Gatehouse is the only path to these databases and hosts. Every statement is checked by policy: it may be masked, denied, or held for a human approver. " +
        "Use list_connections first. When a result says 'held for approval #N', call wait_for_approval with that id; do not retry the statement.",
    },
  );
  // Stateless: a cancel arrives at a fresh server; it reaches the call through in-flight.ts.
  server.server.setNotificationHandler(CancelledNotificationSchema, (n) => {
    if (n.params.requestId !== undefined) cancelCall(ctx.principal, n.params.requestId);
  });
  registerListConnections(server, ctx);
  registerRunSql(server, ctx);
  registerRunSshCommand(server, ctx);
  registerRequestAccess(server, ctx);
  registerWaitForApproval(server, ctx);
  return server;
}
