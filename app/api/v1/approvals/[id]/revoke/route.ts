import { getDb } from "@/db/client";
import { GatehouseError } from "@/lib/gateway/core/types";
import { jsonBody, route } from "@/lib/http/route";
import { parseApprovalId } from "@/lib/services/approvals/input";
import { revokeApproval } from "@/lib/services/approvals/revoke";

/** Body: { reason?: string (≤ 2000) }. Withdraws a pending request or an unused/windowed approval. */
export const POST = route<{ id: string }>("approvals:decide", async (req, caller, { id }) => {
  const approvalId = parseApprovalId(id);
  if (approvalId === null) throw new GatehouseError("NOT_FOUND", "no such approval request");
  return revokeApproval(await getDb(), caller, approvalId, await jsonBody(req));
});
