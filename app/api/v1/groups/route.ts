import { getDb } from "@/db/client";
import { listGroups } from "@/db/queries/users";
import { route } from "@/lib/http/route";

export const GET = route("users:read", async () => ({ groups: await listGroups(await getDb()) }));
