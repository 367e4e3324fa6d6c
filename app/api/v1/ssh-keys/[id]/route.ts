import { getDb } from "@/db/client";
import { route } from "@/lib/http/route";
import { removeSshKey } from "@/lib/services/ssh-keys/remove";

/** Owner or admin; anyone else gets the same 404 as for a key that does not exist. */
export const DELETE = route<{ id: string }>("ssh-keys:own", async (_req, caller, { id }) => removeSshKey(await getDb(), caller, id));
