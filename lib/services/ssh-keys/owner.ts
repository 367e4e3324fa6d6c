import { z } from "zod";
import type { Db } from "@/db/client";
import { getUserByEmail, getUserForSession } from "@/db/queries/users";
import { can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";

const uuid = z.string().uuid();

/**
 * Whose keys a call is about: the caller's own by default, or — for admins (users:write) — the
 * user named by id or email. A caller who may not manage others' keys gets the same FORBIDDEN
 * whether or not the named user exists, so the parameter cannot be used to probe for accounts.
 */
export async function resolveKeyOwner(db: Db, who: Caller, ref: string | undefined | null): Promise<{ id: string; email: string }> {
  const wanted = ref?.trim();
  if (!wanted || wanted === who.userId || wanted.toLowerCase() === who.email.toLowerCase()) return { id: who.userId, email: who.email };
  const target = wanted.includes("@") ? await getUserByEmail(db, wanted) : uuid.safeParse(wanted).success ? await getUserForSession(db, wanted) : null;
  if (!can(who, "ssh-keys:own", { ownerId: target?.id ?? "" })) throw new GatehouseError("FORBIDDEN", "not allowed: managing another user's SSH keys needs users:write");
  if (!target) throw new GatehouseError("NOT_FOUND", "no such user");
  return { id: target.id, email: target.email };
}
