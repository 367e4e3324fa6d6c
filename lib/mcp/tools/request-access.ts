import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { MAX_ACCESS_SECONDS, MAX_WAIT_SECONDS, requestAccess } from "@/lib/services/access/request";
import { callerOf, safely, textResult, type McpContext } from "../context";

/**
 * request_access: just-in-time access through the same service the REST API and the CLI use
 * (authorization, token scope, queue limits, audit all live there). An approved request
 * becomes an access grant that policy sees as `grants.active`.
 */
export function registerRequestAccess(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "request_access",
    {
      title: "Request temporary access",
      description:
        "Asks human approvers for temporary access to a connection (lifts holds that policy ties to an active grant, e.g. writes on prod). " +
        "The grant holds for this token and the agents it delegates to, not for your human or other agents. " +
        "With wait_seconds the call waits for the decision; otherwise use wait_for_approval with the returned approval id.",
      inputSchema: {
        connection: z.string().min(1).max(128),
        duration_minutes: z.number().int().min(1).max(MAX_ACCESS_SECONDS / 60),
        reason: z.string().min(1).max(2000).describe("why the access is needed (shown to approvers)"),
        wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional(),
      },
    },
    (args, extra) =>
      safely("request_access", async () => {
        const res = await requestAccess(ctx.db, callerOf(ctx.principal), { connection: args.connection, durationSeconds: args.duration_minutes * 60, reason: args.reason, wait: args.wait_seconds }, extra.signal);
        const out = {
          approvalId: res.approval.id,
          status: res.status,
          url: res.approval.url,
          expiresAt: res.approval.expiresAt,
          ...(res.grant ? { grant: { id: res.grant.id, expiresAt: res.grant.expiresAt } } : {}),
        };
        const hint = res.status === "pending" ? ` Call wait_for_approval with approval_id ${res.approval.id} to wait for the decision.` : "";
        return textResult(`access request #${res.approval.id} is ${res.status}.${hint} ${JSON.stringify(out)}`, out);
      }),
  );
}
