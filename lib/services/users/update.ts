import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { tokens, users } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { hashPassword } from "@/lib/crypto/password";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { endRequestsOfCredentials } from "../approvals/end-for-credentials";
import { mutate } from "../tx";
import { userPatch } from "./input";
import { setMemberships } from "./memberships";

const uuid = z.string().uuid();

/**
 * Role, name, password, groups and the disabled flag. Disabling (or demoting) bumps the
 * session version, which kills console sessions; disabling also revokes every token the user
 * holds, cancels the requests they left waiting, and tells every gateway process to end the
 * user's live sessions.
 */
export async function updateUser(db: Db, caller: Caller | null, id: string, input: unknown) {
  const who = authorize(caller, "users:write");
  const patch = userPatch.parse(input);
  if (!uuid.safeParse(id).success) throw new GatehouseError("NOT_FOUND", "no such user");
  const passwordHash = patch.password ? await hashPassword(patch.password) : undefined;
  return mutate(db, async (tx, emit) => {
    const [before] = await tx.select({ id: users.id, role: users.role, disabled: users.disabled, email: users.email }).from(users).where(eq(users.id, id));
    if (!before) throw new GatehouseError("NOT_FOUND", "no such user");
    // From here on, the stored id: the database matches "8EAA…" to "8eaa…", while the self check
    // below and every subscriber of the events emitted (sockets, live gateway sessions) compare
    // exact strings — an id in capitals disabled the user and left all their sessions running.
    const uid = before.id;
    if (uid === who.userId && (patch.disabled || (patch.role && patch.role !== "admin"))) {
      throw new GatehouseError("INVALID", "you cannot disable or demote yourself; ask another admin");
    }
    const killsSessions = (patch.disabled === true && !before.disabled) || (patch.role !== undefined && patch.role !== before.role) || passwordHash !== undefined;
    const set = {
      ...(patch.name !== undefined ? { name: patch.name } : {}),
      ...(patch.role !== undefined ? { role: patch.role as never } : {}),
      ...(patch.disabled !== undefined ? { disabled: patch.disabled } : {}),
      ...(passwordHash ? { passwordHash } : {}),
      ...(killsSessions ? { sessionVersion: sql`${users.sessionVersion} + 1` } : {}),
    };
    // a patch of groups alone changes no column of the user (an empty SET is an error)
    if (Object.keys(set).length) await tx.update(users).set(set).where(eq(users.id, uid));
    if (patch.groups) await setMemberships(tx, uid, patch.groups);
    if (killsSessions || patch.groups) emit(Topics.userChanged, { userId: uid });
    let revoked: string[] = [];
    let cancelled: number[] = [];
    if (patch.disabled === true && !before.disabled) {
      revoked = (
        await tx.update(tokens).set({ revokedAt: new Date() }).where(and(eq(tokens.userId, uid), isNull(tokens.revokedAt))).returning({ id: tokens.id })
      ).map((r) => r.id);
      emit(Topics.userDisabled, { userId: uid });
      if (revoked.length) emit(Topics.tokenRevoked, { tokenIds: revoked });
      // Nothing an approver decides later may reopen access for the account (console-made requests name no token).
      cancelled = (await endRequestsOfCredentials(tx, emit, { tokenIds: revoked, userId: uid })).cancelled;
    }
    const changed = Object.keys(patch).map((k) => (k === "password" ? "password" : k));
    await appendAudit(tx, who, { action: patch.disabled === true ? "user.disable" : "user.update", subject: `user:${before.email}`, detail: { changed, role: patch.role, groups: patch.groups, revokedTokens: revoked.length, ...(cancelled.length ? { cancelledRequests: cancelled } : {}) } });
    return { id: uid, revokedTokens: revoked.length };
  });
}

export async function userIdsByEmail(db: Db, emails: string[]) {
  return db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.email, emails));
}
