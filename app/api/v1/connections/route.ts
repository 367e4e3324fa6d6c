import { getDb } from "@/db/client";
import { listConnections } from "@/db/queries/connections";
import { jsonBody, route } from "@/lib/http/route";
import { createConnection } from "@/lib/services/connections/create";
import { toPublicConnection } from "@/lib/services/connections/public";

export const GET = route("connections:read", async () => ({ connections: (await listConnections(await getDb())).map(toPublicConnection) }));

export const POST = route("connections:write", async (req, caller) => ({ connection: await createConnection(await getDb(), caller, await jsonBody(req)) }));
