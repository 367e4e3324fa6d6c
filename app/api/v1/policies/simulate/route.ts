import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { simulatePolicy } from "@/lib/services/policies/simulate";

export const POST = route("policies:read", async (req, caller) => simulatePolicy(await getDb(), caller, await jsonBody(req)));
