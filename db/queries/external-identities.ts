import { and, asc, eq, inArray, sql } from "drizzle-orm";
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

/** The audit rows that record a token issued on an external identity's word (its `root`, `issuer`, `externalSubject`). */
const ISSUED = ["token.exchange", "token.create"];

/**
 * The root tokens issued to `userId` on the word of this (issuer, subject): by token exchange of
 * the IdP's token, and personal tokens minted by a console session signed in through the link or
 * by a token itself issued through it. The token rows do not say which identity vouched for them;
 * the `token.exchange` / `token.create` audit row, written in the same transaction as the token,
 * does (its `root` is the stored root of an actor exchange, or the token itself).
 */
export async function tokensIssuedThrough(db: Db | Tx, userId: string, link: { issuer: string; subject: string }): Promise<string[]> {
  const rows = await db
    .select({ root: sql<string | null>`${auditLog.detail}->>'root'` })
    .from(auditLog)
    .where(
      and(
        inArray(auditLog.action, ISSUED),
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

/** The identity link a token was issued through (exchanged on its word, or minted through it), or null. */
export async function linkThatIssued(db: Db | Tx, userId: string, tokenId: string): Promise<{ issuer: string; subject: string } | null> {
  const [row] = await db
    .select({ issuer: sql<string | null>`${auditLog.detail}->>'issuer'`, subject: sql<string | null>`${auditLog.detail}->>'externalSubject'` })
    .from(auditLog)
    .where(and(inArray(auditLog.action, ISSUED), eq(auditLog.actorId, userId), sql`${auditLog.detail}->>'root' = ${tokenId}`, sql`${auditLog.detail}->>'externalSubject' is not null`))
    .limit(1);
  return row?.issuer && row.subject ? { issuer: row.issuer, subject: row.subject } : null;
}
