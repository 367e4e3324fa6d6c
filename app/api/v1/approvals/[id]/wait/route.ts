import { z } from "zod";
import { getDb } from "@/db/client";
import { approvalWaits } from "@/lib/auth/caller-caps";
import { route } from "@/lib/http/route";
import { parseApprovalId } from "@/lib/services/approvals/input";
import { awaitApprovalDecision } from "@/lib/services/approvals/visibility";

const waitQuery = z.object({ timeout: z.coerce.number().int().min(0).max(60).default(30) });

/** Long-poll: answers as soon as the request leaves "pending", or after `timeout` seconds (≤ 60). */
export const GET = route<{ id: string }>("approvals:read", async (req, caller, { id }) => {
  const q = waitQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  return approvalWaits.within(caller, async () => awaitApprovalDecision(await getDb(), caller, parseApprovalId(id), q.timeout, req.signal));
});
