import { and, asc, eq, sql } from "drizzle-orm";
import type { Db, Tx } from "../client";
import { auditLog, externalIdentities } from "../schema";

/** The IdP identities (issuer + subject) linked to a user. */
export function listExternalIdentities(db: Db, userId: string) {
  return db
    .select({ issuer: externalIdentities.issuer, subject: externalIdentities.subject, createdAt: externalIdentities.createdAt, groupsSyncedAt: externalIdentities.groupsSyncedAt })
    .from(externalIdentities)
    .where(eq(externalIdentities.userId, userId))
    .orderBy(asc(externalIdentities.issuer));
}

/**
 * The root tokens that token exchange issued to `userId` on the word of this (issuer, subject).
 * The token rows do not say which identity vouched for them; the `token.exchange` audit row, written
 * in the same transaction as the token, does (its `root` is the stored root of an actor exchange,
 * or the token itself).
 */
export async function tokensExchangedThrough(db: Db | Tx, userId: string, link: { issuer: string; subject: string }): Promise<string[]> {
  const rows = await db
    .select({ root: sql<string | null>`${auditLog.detail}->>'root'` })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.action, "token.exchange"),
        eq(auditLog.actorId, userId),
        sql`${auditLog.detail}->>'issuer' = ${link.issuer}`,
        sql`${auditLog.detail}->>'externalSubject' = ${link.subject}`,
      ),
    );
  return [...new Set(rows.map((r) => r.root).filter((r): r is string => !!r))];
}

/** When this (issuer, subject) was linked to `userId`, in ms; null when it is not linked to that user. */
export async function linkedAt(db: Db | Tx, userId: string, link: { issuer: string; subject: string }): Promise<number | null> {
  const [row] = await db
    .select({ createdAt: externalIdentities.createdAt })
    .from(externalIdentities)
    .where(and(eq(externalIdentities.userId, userId), eq(externalIdentities.issuer, link.issuer), eq(externalIdentities.subject, link.subject)));
  return row ? row.createdAt.getTime() : null;
}
