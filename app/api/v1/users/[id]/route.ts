import { getDb } from "@/db/client";
import { jsonBody, route } from "@/lib/http/route";
import { updateUser } from "@/lib/services/users/update";
import { resolveUserId } from "./resolve";

/** The segment may be the user id or the email (the CLI uses emails). */
export const PATCH = route<{ id: string }>("users:write", async (req, caller, { id }) => {
  const db = await getDb();
  return updateUser(db, caller, await resolveUserId(db, decodeURIComponent(id)), await jsonBody(req));
});
