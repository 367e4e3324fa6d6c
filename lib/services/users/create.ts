import type { Db } from "@/db/client";
import { users } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { generatePassword, hashPassword } from "@/lib/crypto/password";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { userInput } from "./input";
import { setMemberships } from "./memberships";

/** Creates a local account. Without a password, one is generated and returned once (invite). */
export async function createUser(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "users:write");
  const data = userInput.parse(input);
  const initialPassword = data.password ?? generatePassword();
  const passwordHash = await hashPassword(initialPassword);
  return mutate(db, async (tx) => {
    const [row] = await tx
      .insert(users)
      .values({ email: data.email, name: data.name, role: data.role as never, passwordHash })
      .onConflictDoNothing({ target: users.email })
      .returning({ id: users.id, email: users.email, role: users.role });
    if (!row) throw new GatehouseError("CONFLICT", `a user ${data.email} already exists`);
    await setMemberships(tx, row.id, data.groups);
    await appendAudit(tx, who, { action: "user.create", subject: `user:${row.email}`, detail: { role: row.role, groups: data.groups } });
    return { ...row, groups: data.groups, initialPassword: data.password ? undefined : initialPassword };
  });
}
