import { getDb } from "@/db/client";
import { getSession } from "@/db/queries/sessions";
import { can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";

/** Object check for one session: its own user, or someone who may read all sessions. */
export async function readableSession(caller: Caller, id: string) {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new GatehouseError("NOT_FOUND", "no such session");
  const s = await getSession(await getDb(), id);
  // Not found and not yours look the same.
  if (!s || !can(caller, "sessions:read-own", { ownerId: s.userId })) throw new GatehouseError("NOT_FOUND", "no such session");
  return s;
}
