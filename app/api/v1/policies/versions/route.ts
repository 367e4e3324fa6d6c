import { getDb } from "@/db/client";
import { listPolicyVersions } from "@/db/queries/policies";
import { route } from "@/lib/http/route";

export const GET = route("policies:read", async () => ({ versions: await listPolicyVersions(await getDb()) }));
