import { and, desc, eq, inArray, isNotNull, isNull, or, sql } from "drizzle-orm";
import type { Db } from "../client";
import { tokens } from "../schema";

const columns = {
  id: tokens.id,
  userId: tokens.userId,
  name: tokens.name,
  kind: tokens.kind,
  parentTokenId: tokens.parentTokenId,
  chain: tokens.chain,
  depth: tokens.depth,
  scopeConnections: tokens.scopeConnections,
  scopeActions: tokens.scopeActions,
  expiresAt: tokens.expiresAt,
  revokedAt: tokens.revokedAt,
  createdAt: tokens.createdAt,
};

/**
 * Tokens of one user (or all, for admins), newest first; never the hash. `branch`: only that
 * token and those delegated below it (their stored chain names it).
 */
export function listTokens(db: Db, params: { userId?: string; branch?: string; includeRevoked?: boolean }) {
  const conds = [
    params.userId ? eq(tokens.userId, params.userId) : undefined,
    params.branch ? or(eq(tokens.id, params.branch), sql`${tokens.chain} @> ${JSON.stringify([{ tokenId: params.branch }])}::jsonb`) : undefined,
    params.includeRevoked ? undefined : isNull(tokens.revokedAt),
  ].filter(Boolean);
  return db.select(columns).from(tokens).where(and(...conds)).orderBy(desc(tokens.createdAt)).limit(500);
}

/** Whether any of `ids` is revoked (a live session's credential and the tokens it descends from). */
export async function anyTokenRevoked(db: Db, ids: readonly string[]): Promise<boolean> {
  if (ids.length === 0) return false;
  const rows = await db.select({ id: tokens.id }).from(tokens).where(and(inArray(tokens.id, [...ids]), isNotNull(tokens.revokedAt))).limit(1);
  return rows.length > 0;
}
