import { getDb } from "@/db/client";
import { listUsers } from "@/db/queries/users";
import { jsonBody, route } from "@/lib/http/route";
import { createUser } from "@/lib/services/users/create";

export const GET = route("users:read", async () => ({ users: await listUsers(await getDb()) }));

export const POST = route("users:write", async (req, caller) => ({ user: await createUser(await getDb(), caller, await jsonBody(req)) }));
