import { and, eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { sshKeyColumns } from "@/db/queries/ssh-keys";
import { userSshKeys } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { resolveKeyOwner } from "./owner";
import { parseSshPublicKey } from "./parse";
import { isPlainName, NAME_CHARACTERS_MESSAGE, plainName } from "@/lib/util/plain-name";

export const sshKeyInput = z.object({
  name: plainName(z.string().trim().max(100)).optional(),
  /** one OpenSSH public key line; parseSshPublicKey gives the precise refusal */
  publicKey: z.string({ error: "publicKey is required: paste one OpenSSH public key line" }),
  /** admins only: another user's id or email */
  user: z.string().max(320).optional(),
});

/**
 * Registers a public key for the caller (or, for admins, another user), after which the SSH
 * gateway accepts it in place of a token. Delegated agent tokens are refused by the permission
 * table: a key added by an agent would outlive its token, so revoking the delegation would not
 * take the access away.
 */
export async function addSshKey(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "ssh-keys:own");
  const data = sshKeyInput.parse(input);
  const owner = await resolveKeyOwner(db, who, data.user);
  const key = parseSshPublicKey(data.publicKey);
  // The comment is the default name: it is held to the same rule as a name given.
  if (!data.name && key.comment && !isPlainName(key.comment)) throw new GatehouseError("INVALID", `the key's comment, its name by default, ${NAME_CHARACTERS_MESSAGE}: give the key a name`);
  const name = (data.name || key.comment || `${key.algorithm} key`).slice(0, 100);
  return mutate(db, async (tx) => {
    const [row] = await tx
      .insert(userSshKeys)
      .values({ userId: owner.id, name, algorithm: key.algorithm, publicKey: key.publicKey, fingerprint: key.fingerprint })
      .onConflictDoNothing({ target: [userSshKeys.algorithm, userSshKeys.publicKey] })
      .returning(sshKeyColumns);
    if (!row) {
      const [existing] = await tx
        .select({ userId: userSshKeys.userId, name: userSshKeys.name })
        .from(userSshKeys)
        .where(and(eq(userSshKeys.algorithm, key.algorithm), eq(userSshKeys.publicKey, key.publicKey)));
      // Another user's key name stays private; saying that the key is taken is unavoidable.
      throw new GatehouseError(
        "CONFLICT",
        existing?.userId === owner.id
          ? `this key (${key.fingerprint}) is already registered to this account as "${existing.name}"`
          : `this key (${key.fingerprint}) is already registered to another user; a key can belong to one user only — generate a new key for this account`,
      );
    }
    await appendAudit(tx, who, {
      action: "ssh-key.add",
      subject: `ssh-key:${row.id}`,
      detail: { owner: owner.email, name, algorithm: key.algorithm, bits: key.bits, fingerprint: key.fingerprint },
    });
    return { key: row };
  });
}
