import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { userSshKeys, users } from "@/db/schema";
import { authorize, can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";


const keyId = z.string().uuid();

export async function removeSshKey(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "ssh-keys:own");
  // Not-found, not-yours and not-an-id look the same, so key ids cannot be probed.
  const notFound = () => new GatehouseError("NOT_FOUND", "no such SSH key");
  if (!keyId.safeParse(id).success) throw notFound();
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .select({ id: userSshKeys.id, userId: userSshKeys.userId, name: userSshKeys.name, fingerprint: userSshKeys.fingerprint, owner: users.email })
      .from(userSshKeys)
      .innerJoin(users, eq(users.id, userSshKeys.userId))
      .where(eq(userSshKeys.id, id))
      .for("update");
    if (!row || !can(who, "ssh-keys:own", { ownerId: row.userId })) throw notFound();
    // The stored id from here on: SQL finds "AB12…" as "ab12…", but live sessions compare the
    // key id they logged in with as a string, and one named in capitals ended none of them.
    await tx.delete(userSshKeys).where(eq(userSshKeys.id, row.id));
    await appendAudit(tx, who, { action: "ssh-key.remove", subject: `ssh-key:${row.id}`, detail: { owner: row.owner, name: row.name, fingerprint: row.fingerprint } });
    emit(Topics.sshKeyRemoved, { keyId: row.id, userId: row.userId });
    return { id: row.id, removed: true };
  });
}
