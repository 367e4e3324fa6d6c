import { getDb } from "@/db/client";
import { currentPolicy } from "@/db/queries/policies";
import { getPolicyRuntime } from "@/lib/gateway/policy";
import { jsonBody, route } from "@/lib/http/route";
import { savePolicies } from "@/lib/services/policies/save";

export const GET = route("policies:read", async () => {
  const row = await currentPolicy(await getDb());
  return { policy: row, loadedVersion: getPolicyRuntime().version };
});

export const PUT = route("policies:write", async (req, caller) => savePolicies(await getDb(), caller, await jsonBody(req)));
