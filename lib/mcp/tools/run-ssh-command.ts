import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { classifyForConnection } from "@/lib/gateway/core/classify";
import { errorResult, safely, type McpContext } from "../context";
import { runGatewayCall } from "../gateway-call";
import { DEFAULT_WAIT_SECONDS, MAX_WAIT_SECONDS, notifier } from "./shared";

export const SSH_UNAVAILABLE = "SSH execution through MCP is not available yet in this build";

/**
 * run_ssh_command: the SSH gateway does not exist in this build, but the request still goes
 * through the whole pipeline (connect, exec decision, holds, recording) so policy, approvals
 * and the audit trail behave as they will once it does. An allowed command is NOT run, and the
 * tool says so; the recording says so too.
 */
export function registerRunSshCommand(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "run_ssh_command",
    {
      title: "Run an SSH command",
      description: `Runs a shell command on an ssh connection through Gatehouse (policy, approvals and recording apply). Note: ${SSH_UNAVAILABLE}.`,
      inputSchema: {
        connection: z.string().min(1).max(128),
        command: z.string().min(1).max(32_000),
        wait_seconds: z.number().int().min(0).max(MAX_WAIT_SECONDS).optional(),
      },
    },
    (args, extra) =>
      safely("run_ssh_command", () =>
        runGatewayCall(ctx, {
          tool: "run_ssh_command",
          connection: args.connection,
          type: "ssh",
          waitSeconds: args.wait_seconds ?? DEFAULT_WAIT_SECONDS,
          notify: notifier(extra),
          classify: () => classifyForConnection("ssh", args.command),
          execute: async ({ session, decision }) => {
            session.recordResult(decision.requestSeq, { error: { code: "UNAVAILABLE", message: SSH_UNAVAILABLE }, executed: false });
            return errorResult(`UNAVAILABLE: ${SSH_UNAVAILABLE}. The command was allowed by policy but has not been run.`);
          },
        }),
      ),
  );
}
