import { and, desc, eq, gt, inArray, isNull, ne, notInArray, or, sql, type Column, type SQL } from "drizzle-orm";
import type { Db, Tx } from "../client";
import { accessGrants, approvalDecisions, approvalRequests, connections, tokens, users } from "../schema";

export const DECIDED_STATUSES = ["approved", "denied", "expired", "cancelled", "used"] as const;
export type ApprovalStatusFilter = "pending" | "decided" | "all" | (typeof DECIDED_STATUSES)[number];

const listColumns = {
  id: approvalRequests.id,
  kind: approvalRequests.kind,
  status: approvalRequests.status,
  connectionId: approvalRequests.connectionId,
  /** the connection's current name, or the one it had when it was deleted */
  connection: sql<string>`coalesce(${connections.name}, ${approvalRequests.connectionName})`,
  /** false once the connection is deleted: the request stays, as evidence */
  connectionExists: sql<boolean>`(${connections.id} is not null)`,
  requesterId: approvalRequests.requesterId,
  requester: users.email,
  chain: approvalRequests.chain,
  sessionId: approvalRequests.sessionId,
  request: approvalRequests.request,
  reason: approvalRequests.reason,
  approverGroups: approvalRequests.approverGroups,
  minApprovals: approvalRequests.minApprovals,
  durationSeconds: approvalRequests.durationSeconds,
  windowUntil: approvalRequests.windowUntil,
  expiresAt: approvalRequests.expiresAt,
  decidedAt: approvalRequests.decidedAt,
  createdAt: approvalRequests.createdAt,
  approvals: sql<number>`(select count(*)::int from ${approvalDecisions} d where d.request_id = ${approvalRequests.id} and d.decision = 'approve')`,
};

export type ApprovalRow = Awaited<ReturnType<typeof listApprovals>>[number];

/** A jsonb array containing one object with this id: matches a chain that includes the user. */
function chainContains(userId: string) {
  return sql`${approvalRequests.chain} @> jsonb_build_array(jsonb_build_object('id', ${userId}::text))`;
}

/** A chain naming this token: requests made with it or with a token it delegated to (its branch). */
export function chainNamesToken(chain: Column, tokenId: string) {
  return sql`${chain} @> jsonb_build_array(jsonb_build_object('tokenId', ${tokenId}::text))`;
}

/**
 * Approval requests, newest first. `mineToDecide` narrows to pending requests this user may
 * still decide: one of its groups approves, it is not the requester nor in the chain, and it has
 * not decided yet. Object filtering (members see only their own, agents their branch's) is the caller's job via
 * requesterId and branch.
 */
export function listApprovals(
  db: Db,
  params: { status?: ApprovalStatusFilter; mineToDecide?: { userId: string; groups: string[] }; requesterId?: string; branch?: string; limit?: number },
) {
  const conds: (SQL | undefined)[] = [];
  const status = params.status ?? "all";
  if (status === "decided") conds.push(inArray(approvalRequests.status, [...DECIDED_STATUSES]));
  else if (status !== "all") conds.push(eq(approvalRequests.status, status));
  if (params.requesterId) conds.push(eq(approvalRequests.requesterId, params.requesterId));
  if (params.branch) conds.push(chainNamesToken(approvalRequests.chain, params.branch));
  const mine = params.mineToDecide;
  if (mine) {
    if (!mine.groups.length) conds.push(sql`false`);
    else {
      const groups = sql.join(mine.groups.map((g) => sql`${g}`), sql`, `);
      conds.push(sql`${approvalRequests.approverGroups} ?| array[${groups}]::text[]`);
    }
    conds.push(eq(approvalRequests.status, "pending"), ne(approvalRequests.requesterId, mine.userId), sql`not (${chainContains(mine.userId)})`);
    conds.push(notInArray(approvalRequests.id, db.select({ id: approvalDecisions.requestId }).from(approvalDecisions).where(eq(approvalDecisions.approverId, mine.userId))));
  }
  return db
    .select(listColumns)
    .from(approvalRequests)
    .leftJoin(connections, eq(connections.id, approvalRequests.connectionId))
    .innerJoin(users, eq(users.id, approvalRequests.requesterId))
    .where(and(...conds))
    .orderBy(desc(approvalRequests.id))
    .limit(Math.min(Math.max(params.limit ?? 100, 1), 500));
}

/** One request with its decisions (approver emails), connection name and the grant it produced. */
export async function getApproval(db: Db | Tx, id: number) {
  const [row] = await db
    .select(listColumns)
    .from(approvalRequests)
    .leftJoin(connections, eq(connections.id, approvalRequests.connectionId))
    .innerJoin(users, eq(users.id, approvalRequests.requesterId))
    .where(eq(approvalRequests.id, id));
  if (!row) return null;
  const decisions = await db
    .select({
      approverId: approvalDecisions.approverId,
      approver: users.email,
      decision: approvalDecisions.decision,
      comment: approvalDecisions.comment,
      windowSeconds: approvalDecisions.windowSeconds,
      createdAt: approvalDecisions.createdAt,
    })
    .from(approvalDecisions)
    .innerJoin(users, eq(users.id, approvalDecisions.approverId))
    .where(eq(approvalDecisions.requestId, id))
    .orderBy(approvalDecisions.id);
  const [grant] = await db.select(grantColumns).from(accessGrants).where(eq(accessGrants.requestId, id));
  return { ...row, decisions, grant: grant ?? null };
}

export type ApprovalDetail = NonNullable<Awaited<ReturnType<typeof getApproval>>>;

/** Status and the fields a waiting hold needs; cheap enough to poll. */
export async function getApprovalState(db: Db, id: number) {
  const [row] = await db
    .select({ id: approvalRequests.id, status: approvalRequests.status, expiresAt: approvalRequests.expiresAt, windowUntil: approvalRequests.windowUntil })
    .from(approvalRequests)
    .where(eq(approvalRequests.id, id));
  return row ?? null;
}

const grantColumns = {
  id: accessGrants.id,
  userId: accessGrants.userId,
  connectionId: accessGrants.connectionId,
  requestId: accessGrants.requestId,
  expiresAt: accessGrants.expiresAt,
  revokedAt: accessGrants.revokedAt,
  createdAt: accessGrants.createdAt,
};

/**
 * Grants newest first, with user email, connection name and the delegation chain of the agent a
 * grant is for (null: the user's own, for all their sessions); `userId` narrows to one user,
 * `agent` to the grants an agent may know of: those that hold for it (its lineage's and its
 * user's own) and those its branch asked for.
 */
export function listGrants(db: Db, params: { id?: string; userId?: string; agent?: { tokenId: string; lineage: readonly string[] }; activeOnly?: boolean; limit?: number }) {
  const now = new Date();
  const agent = params.agent;
  const forAgent = agent && or(isNull(accessGrants.actorTokenId), agent.lineage.length ? inArray(accessGrants.actorTokenId, [...agent.lineage]) : undefined, chainNamesToken(tokens.chain, agent.tokenId));
  return db
    .select({ ...grantColumns, user: users.email, connection: sql<string>`coalesce(${connections.name}, ${accessGrants.connectionName})`, actorChain: tokens.chain })
    .from(accessGrants)
    .innerJoin(users, eq(users.id, accessGrants.userId))
    .leftJoin(connections, eq(connections.id, accessGrants.connectionId))
    .leftJoin(tokens, eq(tokens.id, accessGrants.actorTokenId))
    .where(and(params.id ? eq(accessGrants.id, params.id) : undefined, params.userId ? eq(accessGrants.userId, params.userId) : undefined, forAgent, params.activeOnly ? and(isNull(accessGrants.revokedAt), gt(accessGrants.expiresAt, now)) : undefined))
    .orderBy(desc(accessGrants.createdAt))
    .limit(Math.min(Math.max(params.limit ?? 200, 1), 500));
}

/**
 * Unexpired, unrevoked grants of one user on one connection that hold for a session whose
 * credential descends from `lineage` (its tokens, root first: see grantLineage): the user's own
 * grants, and those of any agent in the lineage. Feeds the policy's `grants.active`.
 */
export async function activeGrantsOf(db: Db, userId: string, connectionId: string, lineage: readonly string[]) {
  const forActor = lineage.length ? or(isNull(accessGrants.actorTokenId), inArray(accessGrants.actorTokenId, [...lineage])) : isNull(accessGrants.actorTokenId);
  const rows = await db
    .select({ id: accessGrants.id, expiresAt: accessGrants.expiresAt })
    .from(accessGrants)
    .where(and(eq(accessGrants.userId, userId), eq(accessGrants.connectionId, connectionId), forActor, isNull(accessGrants.revokedAt), gt(accessGrants.expiresAt, new Date())));
  return rows.map((r) => ({ ...r, connectionId }));
}

export async function getGrant(db: Db, id: string) {
  const [row] = await db.select(grantColumns).from(accessGrants).where(eq(accessGrants.id, id));
  return row ?? null;
}

/**
 * Approved, still-open time windows for exactly this binding (the hash covers everything),
 * newest first; the caller checks that each still satisfies the current requirement.
 */
export function findApprovedWindows(db: Db, params: { bindingHash: string; requesterId: string; connectionId: string }) {
  return db
    .select({ id: approvalRequests.id, windowUntil: approvalRequests.windowUntil, approverGroups: approvalRequests.approverGroups, minApprovals: approvalRequests.minApprovals })
    .from(approvalRequests)
    .where(
      and(
        eq(approvalRequests.bindingHash, params.bindingHash),
        // Redundant with the hash, but cheap: a window is never used by someone else or elsewhere.
        eq(approvalRequests.requesterId, params.requesterId),
        eq(approvalRequests.connectionId, params.connectionId),
        eq(approvalRequests.kind, "statement"),
        eq(approvalRequests.status, "approved"),
        gt(approvalRequests.windowUntil, new Date()),
      ),
    )
    .orderBy(desc(approvalRequests.windowUntil))
    .limit(20);
}
