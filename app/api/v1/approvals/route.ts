import { z } from "zod";
import { getDb } from "@/db/client";
import { listApprovals } from "@/db/queries/approvals";
import { can } from "@/lib/auth/authorize";
import { limitParam } from "@/lib/http/paging";
import { route } from "@/lib/http/route";
import { expireOverdue } from "@/lib/services/approvals/expire";
import { toPublicApproval } from "@/lib/services/approvals/public";
import { approvalsFilterOf } from "@/lib/services/approvals/visibility";

const listQuery = z.object({
  status: z.enum(["pending", "decided", "all", "approved", "denied", "expired", "cancelled", "used"]).default("all"),
  /** 1 = only requests waiting for MY decision (approvers); members always see only their own */
  mine: z.enum(["0", "1"]).default("0"),
  limit: limitParam(100, 500),
});

export const GET = route("approvals:read", async (req, caller) => {
  const q = listQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  const db = await getDb();
  await expireOverdue(db);
  const rows = await listApprovals(db, {
    status: q.status,
    ...approvalsFilterOf(caller),
    mineToDecide: q.mine === "1" && can(caller, "approvals:decide") ? { userId: caller.userId, groups: caller.groups } : undefined,
    limit: q.limit,
  });
  return { approvals: rows.map(toPublicApproval) };
});
