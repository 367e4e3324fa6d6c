import { getDb } from "@/db/client";
import { route } from "@/lib/http/route";
import { parseApprovalId } from "@/lib/services/approvals/input";
import { readApproval } from "@/lib/services/approvals/visibility";

export const GET = route<{ id: string }>("approvals:read", async (_req, caller, { id }) => ({ approval: await readApproval(await getDb(), caller, parseApprovalId(id)) }));
