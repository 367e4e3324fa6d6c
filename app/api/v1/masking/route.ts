import { getDb } from "@/db/client";
import { listMaskingRules } from "@/db/queries/masking";
import { jsonBody, route } from "@/lib/http/route";
import { createMaskingRule } from "@/lib/services/masking/create";

export const GET = route("masking:read", async () => ({ rules: await listMaskingRules(await getDb()) }));

export const POST = route("masking:write", async (req, caller) => ({ rule: await createMaskingRule(await getDb(), caller, await jsonBody(req)) }));
