import { getDb } from "@/db/client";
import { getUserByEmail } from "@/db/queries/users";
import { GatehouseError } from "@/lib/gateway/core/types";
import { jsonBody, route } from "@/lib/http/route";
import { updateUser } from "@/lib/services/users/update";

/** The segment may be the user id or the email (the CLI uses emails). */
async function resolveId(idOrEmail: string) {
  if (!idOrEmail.includes("@")) return idOrEmail;
  const user = await getUserByEmail(await getDb(), idOrEmail);
  if (!user) throw new GatehouseError("NOT_FOUND", "no such user");
  return user.id;
}

export const PATCH = route<{ id: string }>("users:write", async (req, caller, { id }) =>
  updateUser(await getDb(), caller, await resolveId(decodeURIComponent(id)), await jsonBody(req)),
);
