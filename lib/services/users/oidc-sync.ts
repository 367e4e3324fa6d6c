import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { users } from "@/db/schema";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { email as emailSchema, groupName } from "./input";
import { setMemberships } from "./memberships";

/**
 * First OIDC login creates a member account; every login re-syncs the groups that came from
 * the IdP's groups claim (console-managed memberships are left alone). Disabled users are refused.
 */
export async function syncOidcUser(db: Db, profile: { email: string; name: string; groups: unknown }) {
  const email = emailSchema.safeParse(profile.email);
  if (!email.success) return null;
  const groups = z.array(groupName).max(256).safeParse(Array.isArray(profile.groups) ? profile.groups : []);
  const groupNames = groups.success ? groups.data : [];
  return mutate(db, async (tx, emit) => {
    let [user] = await tx.select({ id: users.id, disabled: users.disabled, sessionVersion: users.sessionVersion }).from(users).where(eq(users.email, email.data));
    if (!user) {
      [user] = await tx.insert(users).values({ email: email.data, name: profile.name, source: "oidc", role: "member" }).returning({ id: users.id, disabled: users.disabled, sessionVersion: users.sessionVersion });
    }
    if (user.disabled) return null;
    await setMemberships(tx, user.id, groupNames, "oidc");
    emit(Topics.userGroupsSynced, { userId: user.id });
    await appendAudit(tx, { userId: user.id, email: email.data }, { action: "auth.login", subject: `user:${email.data}`, detail: { via: "oidc", groups: groupNames } });
    return user;
  });
}
