import { getDb } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { GatehouseError } from "@/lib/gateway/core/types";
import { jsonBody, route } from "@/lib/http/route";
import { deleteConnection } from "@/lib/services/connections/delete";
import { connectionFor } from "@/lib/services/connections/public";
import { updateConnection } from "@/lib/services/connections/update";

type P = { id: string };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The path segment may be the id or the name (the CLI uses names). */
async function resolve(idOrName: string) {
  const row = await getConnection(await getDb(), UUID.test(idOrName) ? { id: idOrName } : { name: idOrName });
  if (!row) throw new GatehouseError("NOT_FOUND", "no such connection");
  return row;
}

export const GET = route<P>("connections:read", async (_req, caller, { id }) => ({ connection: connectionFor(caller, await resolve(id)) }));

export const PATCH = route<P>("connections:write", async (req, caller, { id }) => ({
  connection: await updateConnection(await getDb(), caller, (await resolve(id)).id, await jsonBody(req)),
}));

export const DELETE = route<P>("connections:write", async (_req, caller, { id }) => deleteConnection(await getDb(), caller, (await resolve(id)).id));
