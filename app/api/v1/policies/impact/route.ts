import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { policyImpact } from "@/lib/services/policies/impact";

/** What saving this policy text would end among the live sessions, before saving it. */
export const POST = route("policies:write", async (req, caller) => policyImpact(await getDb(), caller, await jsonBody(req)));
