import type { Db } from "@/db/client";
import { getUserByEmail, getUserForSession } from "@/db/queries/users";
import { GatehouseError } from "@/lib/gateway/core/types";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The `[id]` segment may be the user id or the email (the CLI uses emails); the stored id, or NOT_FOUND. */
export async function resolveUserId(db: Db, idOrEmail: string): Promise<string> {
  const user = idOrEmail.includes("@") ? await getUserByEmail(db, idOrEmail) : UUID.test(idOrEmail) ? await getUserForSession(db, idOrEmail) : null;
  if (!user) throw new GatehouseError("NOT_FOUND", "no such user");
  return user.id;
}
