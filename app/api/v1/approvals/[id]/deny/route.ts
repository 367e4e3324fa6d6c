import { getDb } from "@/db/client";
import { GatehouseError } from "@/lib/gateway/core/types";
import { jsonBody, route } from "@/lib/http/route";
import { decideApproval } from "@/lib/services/approvals/decide";
import { parseApprovalId } from "@/lib/services/approvals/input";

/** Body: { reason?: string (≤ 2000) } or { comment?: string (≤ 1000) }; shown to the requester. */
export const POST = route<{ id: string }>("approvals:decide", async (req, caller, { id }) => {
  const approvalId = parseApprovalId(id);
  if (approvalId === null) throw new GatehouseError("NOT_FOUND", "no such approval request");
  const body = (await jsonBody(req)) as Record<string, unknown> | null;
  return decideApproval(await getDb(), caller, approvalId, { ...body, decision: "deny" });
});
