import { getDb } from "@/db/client";
import { getMaskingRule } from "@/db/queries/masking";
import { GatehouseError } from "@/lib/gateway/core/types";
import { jsonBody, route } from "@/lib/http/route";
import { deleteMaskingRule, updateMaskingRule } from "@/lib/services/masking/update";

type P = { id: string };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The segment may be the rule's id or its name (the CLI uses names). */
async function resolve(idOrName: string) {
  const row = await getMaskingRule(await getDb(), UUID.test(idOrName) ? { id: idOrName } : { name: decodeURIComponent(idOrName) });
  if (!row) throw new GatehouseError("NOT_FOUND", "no such masking rule");
  return row;
}

export const GET = route<P>("masking:read", async (_req, _caller, { id }) => ({ rule: await resolve(id) }));

export const PUT = route<P>("masking:write", async (req, caller, { id }) => updateMaskingRule(await getDb(), caller, (await resolve(id)).id, await jsonBody(req)));

export const DELETE = route<P>("masking:write", async (_req, caller, { id }) => deleteMaskingRule(await getDb(), caller, (await resolve(id)).id));
