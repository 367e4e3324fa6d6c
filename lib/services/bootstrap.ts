import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { connections, users } from "@/db/schema";
import { countUsers } from "@/db/queries/users";
import type { GatehouseConfig } from "@/lib/config/env";
import { generatePassword, hashPassword } from "@/lib/crypto/password";
import { seal } from "@/lib/crypto/secrets";
import { appendAudit } from "./audit/append";
import { setMemberships } from "./users/memberships";
import { mutate } from "./tx";

/**
 * First start: create the first admin (password from GATEHOUSE_ADMIN_PASSWORD, or generated and
 * printed once). Safe to call on every start and from several processes at once.
 */
export async function ensureFirstAdmin(db: Db, cfg: GatehouseConfig): Promise<{ email: string; password: string | null } | null> {
  if (await countUsers(db)) return null;
  const password = cfg.adminPassword ?? generatePassword();
  const passwordHash = await hashPassword(password);
  return mutate(db, async (tx) => {
    const [row] = await tx.insert(users).values({ email: cfg.adminEmail.toLowerCase(), name: "Administrator", role: "admin", passwordHash }).onConflictDoNothing().returning({ id: users.id });
    if (!row) return null;
    await setMemberships(tx, row.id, ["approvers"]);
    await appendAudit(tx, null, { action: "user.bootstrap_admin", subject: `user:${cfg.adminEmail.toLowerCase()}` });
    return { email: cfg.adminEmail.toLowerCase(), password: cfg.adminPassword ? null : password };
  });
}

/** Registers the embedded sample database as connection `demo-postgres` (once). */
export async function ensureDemoConnection(db: Db, port: number, password: string) {
  const [existing] = await db.select({ id: connections.id }).from(connections).where(eq(connections.name, "demo-postgres"));
  const upstream = `postgres://127.0.0.1:${port}/postgres`;
  await mutate(db, async (tx) => {
    if (existing) {
      await tx.update(connections).set({ upstream, secretCiphertext: seal(password) }).where(eq(connections.id, existing.id));
      return;
    }
    await tx.insert(connections).values({
      name: "demo-postgres",
      type: "postgres",
      upstream,
      username: "postgres",
      tags: ["demo", "pii"],
      secretCiphertext: seal(password),
      description: "Embedded sample database (PGlite) with a customers table full of PII. Try masking and approvals on it.",
    });
    await appendAudit(tx, null, { action: "connection.create", subject: "connection:demo-postgres", detail: { demo: true } });
  });
}
