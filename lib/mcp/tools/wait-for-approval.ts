import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import { getApproval } from "@/db/queries/approvals";
import { GatehouseError } from "@/lib/gateway/core/types";
import { awaitApprovalDecision, madeApproval } from "@/lib/services/approvals/visibility";
import { callerOf, safely, textResult, type McpContext } from "../context";
import { approvalWaits } from "@/lib/auth/caller-caps";
import { serialId } from "@/lib/util/serial-id";
import { findHeldCall, within } from "../held-calls";

/**
 * wait_for_approval: long-polls one approval request of the caller's.
 *
 * For a tool call that was held (run_sql, run_ssh_command) and is still parked in this process,
 * it returns that call's own result once the approver decided: the rows, or the denial. For
 * anything else (an access request, a call parked on another Gatehouse node) it returns the
 * request's status. Someone else's request and a missing one look the same.
 */
export function registerWaitForApproval(server: McpServer, ctx: McpContext) {
  server.registerTool(
    "wait_for_approval",
    {
      title: "Wait for an approval",
      description: "Waits (up to timeout_seconds, max 60) for a decision on one of your approval requests; returns the held call's result once it ran, or the request's status.",
      inputSchema: {
        approval_id: serialId,
        timeout_seconds: z.number().int().min(0).max(60).optional(),
      },
      annotations: { readOnlyHint: true },
    },
    (args, extra) =>
      safely("wait_for_approval", () => approvalWaits.within(callerOf(ctx.principal), async () => {
        const timeoutMs = (args.timeout_seconds ?? 30) * 1000;
        const held = findHeldCall(args.approval_id, ctx.principal);
        if (held) {
          const result = held.result ?? (await within(held.promise, timeoutMs));
          if (result) return result;
          return textResult(`approval #${args.approval_id} is still pending; nothing has run yet. Call wait_for_approval again.`, { status: "pending", approvalId: args.approval_id });
        }
        // "Only the requester": approvers may long-poll through the REST API, not as an agent here.
        const row = await getApproval(ctx.db, args.approval_id);
        if (!row || !madeApproval(callerOf(ctx.principal), row)) throw new GatehouseError("NOT_FOUND", "no such approval request");
        const res = await awaitApprovalDecision(ctx.db, callerOf(ctx.principal), row.id, timeoutMs / 1000, extra.signal);
        const out = {
          approvalId: res.approval.id,
          kind: res.approval.kind,
          status: res.status,
          decided: res.decided,
          decisions: res.approval.decisions?.map((d) => ({ approver: d.approver, decision: d.decision, comment: d.comment })) ?? [],
          ...(res.approval.grant ? { grant: { id: res.approval.grant.id, expiresAt: res.approval.grant.expiresAt } } : {}),
        };
        const hint = res.approval.kind === "statement" && res.decided ? " (the held call is not waiting on this node any more; run it again if it did not complete)" : "";
        return textResult(`approval #${row.id} is ${res.status}${hint}. ${JSON.stringify(out)}`, out);
      })),
  );
}
