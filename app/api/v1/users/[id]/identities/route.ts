import { getDb } from "@/db/client";
import { listExternalIdentities } from "@/db/queries/external-identities";
import { jsonBody, route } from "@/lib/http/route";
import { unlinkExternalIdentity } from "@/lib/services/users/unlink-external";
import { resolveUserId } from "../resolve";

/** The IdP identities linked to a user; DELETE with `{ issuer, subject }` unlinks one (admins). */
export const GET = route<{ id: string }>("users:read", async (_req, _caller, { id }) => {
  const db = await getDb();
  return { identities: await listExternalIdentities(db, await resolveUserId(db, decodeURIComponent(id))) };
});

export const DELETE = route<{ id: string }>("users:write", async (req, caller, { id }) => {
  const db = await getDb();
  return unlinkExternalIdentity(db, caller, await resolveUserId(db, decodeURIComponent(id)), await jsonBody(req));
});
