import { getDb } from "@/db/client";
import { route } from "@/lib/http/route";
import { revokeToken } from "@/lib/services/tokens/revoke";

export const DELETE = route<{ id: string }>("tokens:own", async (_req, caller, { id }) => revokeToken(await getDb(), caller, { id }));
