import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { rollbackPolicies } from "@/lib/services/policies/rollback";

export const POST = route("policies:write", async (req, caller) => rollbackPolicies(await getDb(), caller, await jsonBody(req)));
