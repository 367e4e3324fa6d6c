import { and, eq, inArray, isNull } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { tokensIssuedThrough } from "@/db/queries/external-identities";
import { externalIdentities, tokens, users } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { descendantTokenIds } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { endRequestsOfCredentials } from "../approvals/end-for-credentials";
import { mutate } from "../tx";
import { setMemberships } from "./memberships";

const uuid = z.string().uuid();
const linkInput = z.object({ issuer: z.string().min(1).max(2048), subject: z.string().min(1).max(1024) });

/**
 * Removes the link between a user and an IdP identity (issuer + subject), for when the IdP gave
 * the person a new subject or the wrong subject was linked. The next sign-in of any subject
 * carrying the account's (vouched-for) email links anew.
 *
 * What was obtained through the link ends with it: the console sessions signed in through it
 * (their cookies record the link, lib/auth/sign-in.ts: removing it is what ends them; sessions
 * signed in with a password or through another link stay), SAML login codes not yet redeemed, the
 * tokens issued on that subject's word (by token exchange, and personal tokens minted by a session
 * or token that came through the link) and everything delegated below them,
 * the waiting requests and approved windows of those tokens, and the groups the IdP synced (they
 * come back at the next sign-in through a remaining link). Tokens the user got another way stay.
 */
export async function unlinkExternalIdentity(db: Db, caller: Caller | null, userId: string, input: unknown) {
  const who = authorize(caller, "users:write");
  const link = linkInput.parse(input);
  if (!uuid.safeParse(userId).success) throw new GatehouseError("NOT_FOUND", "no such user");
  return mutate(db, async (tx, emit) => {
    const [user] = await tx.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, userId));
    if (!user) throw new GatehouseError("NOT_FOUND", "no such user");
    const uid = user.id;
    const [removed] = await tx
      .delete(externalIdentities)
      .where(and(eq(externalIdentities.userId, uid), eq(externalIdentities.issuer, link.issuer), eq(externalIdentities.subject, link.subject)))
      .returning({ issuer: externalIdentities.issuer, subject: externalIdentities.subject });
    // Another user's link, or none: the same answer, and nothing changed.
    if (!removed) throw new GatehouseError("NOT_FOUND", "no such identity linked to this user");

    const roots = await tokensIssuedThrough(tx, uid, removed);
    const ids = roots.length ? await descendantTokenIds(tx, roots) : [];
    const revoked = ids.length ? (await tx.update(tokens).set({ revokedAt: new Date() }).where(and(inArray(tokens.id, ids), eq(tokens.userId, uid), isNull(tokens.revokedAt))).returning({ id: tokens.id })).map((r) => r.id) : [];
    const requests = ids.length ? await endRequestsOfCredentials(tx, emit, { tokenIds: ids }) : { endedWindows: [], cancelled: [] };
    await setMemberships(tx, uid, [], "oidc");
    await appendAudit(tx, who, {
      action: "user.unlink_external",
      subject: `user:${user.email}`,
      detail: { issuer: removed.issuer, externalSubject: removed.subject, revokedTokens: revoked.length, endedWindows: requests.endedWindows, cancelledRequests: requests.cancelled },
    });
    emit(Topics.userChanged, { userId: uid });
    if (ids.length) emit(Topics.tokenRevoked, { tokenIds: ids });
    return { issuer: removed.issuer, subject: removed.subject, revokedTokens: revoked.length };
  });
}
