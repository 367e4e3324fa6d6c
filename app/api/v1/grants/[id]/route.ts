import { getDb } from "@/db/client";
import { route } from "@/lib/http/route";
import { revokeGrant } from "@/lib/services/access/grants";

export const DELETE = route<{ id: string }>("approvals:decide", async (_req, caller, { id }) => revokeGrant(await getDb(), caller, id));
