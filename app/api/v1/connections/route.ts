import { getDb } from "@/db/client";
import { listConnections } from "@/db/queries/connections";
import { jsonBody, route } from "@/lib/http/route";
import { createConnection } from "@/lib/services/connections/create";
import { connectionFor } from "@/lib/services/connections/public";

export const GET = route("connections:read", async (_req, caller) => ({ connections: (await listConnections(await getDb())).map((row) => connectionFor(caller, row)) }));

export const POST = route("connections:write", async (req, caller) => ({ connection: await createConnection(await getDb(), caller, await jsonBody(req)) }));
