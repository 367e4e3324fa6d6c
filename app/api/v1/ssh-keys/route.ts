import { getDb } from "@/db/client";
import { listSshKeys } from "@/db/queries/ssh-keys";
import { jsonBody, route } from "@/lib/http/route";
import { addSshKey } from "@/lib/services/ssh-keys/add";
import { resolveKeyOwner } from "@/lib/services/ssh-keys/owner";

/** The caller's own keys; admins may pass ?user=<id or email>. */
export const GET = route("ssh-keys:own", async (req, caller) => {
  const db = await getDb();
  const owner = await resolveKeyOwner(db, caller, new URL(req.url).searchParams.get("user"));
  return { user: owner, keys: await listSshKeys(db, owner.id) };
});

/** Body: { publicKey: "ssh-ed25519 AAAA... comment", name?, user? (admins) }. */
export const POST = route("ssh-keys:own", async (req, caller) => addSshKey(await getDb(), caller, await jsonBody(req)));
