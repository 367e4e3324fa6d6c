import { and, count, desc, eq, gte, inArray, isNotNull, sql, type SQL } from "drizzle-orm";
import type { Db } from "../client";
import { approvalRequests, sessionEvents, sessions } from "../schema";
import { chainNamesToken } from "./approvals";
import { sessionScope } from "./sessions";

/**
 * Aggregates for the console's Overview (app/api/v1/stats): counts per hour or day, computed in
 * the database, each bounded by an index: sessions by `sessions_started_idx`, their events by the
 * (session_id, seq) key of the sessions found, approvals by their status or time. Times come back
 * as epoch milliseconds (float8), never as timestamps, which the two drivers return differently.
 */
export interface StatsScope {
  /** only this user's sessions (a member) */
  userId?: string;
  /** only sessions of this token's branch (an agent or a narrowed token) */
  descendsFrom?: string;
  /** approvals made by this user, and of those by this token's branch */
  requesterId?: string;
  branch?: string;
}

type Unit = "hour" | "day";
export interface BucketRow {
  bucket: number;
  key: string;
  n: number;
}

const epochMs = (ts: SQL) => sql<number>`(extract(epoch from ${ts}) * 1000)::float8`;
// `unit` is one of two literals (lib/stats/buckets.ts), never input; spelled inline so the
// select and its GROUP BY are the same expression.
const bucketOf = (unit: Unit, ts: SQL) => epochMs(sql`date_trunc(${sql.raw(`'${unit === "hour" ? "hour" : "day"}'`)}, ${ts}, 'UTC')`);
const atTime = (ms: number) => sql`${new Date(ms).toISOString()}::timestamptz`;

/** Native sessions by protocol; the MCP and browser-console ones by origin, whatever they reach. */
const seriesOf = sql<string>`case when ${sessions.origin} in ('mcp', 'web-console') then ${sessions.origin} else ${sessions.protocol} end`;

/** The database's clock: now, and the start of the current hour or day (UTC). */
export async function statsClock(db: Db, unit: Unit): Promise<{ now: number; current: number }> {
  const [row] = await db.select({ now: epochMs(sql`now()`), current: bucketOf(unit, sql`now()`) }).from(sql`(values (1)) as clock (x)`);
  return { now: Number(row.now), current: Number(row.current) };
}

export async function sessionsPerBucket(db: Db, scope: StatsScope, unit: Unit, from: number): Promise<BucketRow[]> {
  const bucket = bucketOf(unit, sql`${sessions.startedAt}`);
  const rows = await db
    .select({ bucket, key: seriesOf, n: count() })
    .from(sessions)
    .where(and(gte(sessions.startedAt, atTime(from)), ...sessionScope(scope)))
    .groupBy(bucket, seriesOf);
  return rows.map((r) => ({ bucket: Number(r.bucket), key: r.key, n: Number(r.n) }));
}

/**
 * The decisions of sessions started in the range, or still live (a long session that began
 * before it), made in the range. The events are read per session, as a LATERAL join, through
 * `session_events_decided_idx` (session, time; decided kinds only): a plain join let the planner
 * hash the whole event table (every recording ever made) even for the last 24 hours, and the
 * (session_id, seq) key read a weeks-old live shell's every line of output
 * (tests/integration/overview-stats.test.ts checks the plans and rows read on both stores).
 *
 * A decided request's or connection's event carries its `verdict`; older recordings have a
 * separate `verdict` event instead (their request carries none, so nothing is counted twice).
 * The kinds are literals, not parameters: only so can the planner match the index's predicate.
 */
function decisionsIn(scope: StatsScope, from: number, extra: (payload: SQL) => SQL[] = () => []) {
  const since = atTime(from);
  // OFFSET 0 keeps the planner from flattening the LATERAL back into that plain join; the outer
  // row is spelled out because drizzle writes an outer column unqualified inside a subquery.
  const source = sql`${sessions} cross join lateral (
    select ${sessionEvents.tMs}, ${sessionEvents.payload} from ${sessionEvents}
    where ${sessionEvents.sessionId} = "sessions"."id" and ${sessionEvents.kind} in ('request', 'connect', 'verdict')
      and ${sessionEvents.tMs} >= extract(epoch from ${since} - "sessions"."started_at") * 1000
      and ${sessionEvents.payload} ? 'verdict'
    offset 0) as e`;
  const at = sql`${sessions.startedAt} + e.t_ms * interval '1 millisecond'`;
  const payload = sql`e.payload`;
  const where = and(sql`(${sessions.startedAt} >= ${since} or ${sessions.status} = 'live')`, ...sessionScope(scope), sql`${at} >= ${since}`, ...extra(payload));
  return { source, at, payload, where };
}

const deniedOnly = (payload: SQL) => [sql`${payload} ->> 'verdict' = 'deny'`];

export async function decisionsPerBucket(db: Db, scope: StatsScope, unit: Unit, from: number): Promise<BucketRow[]> {
  const d = decisionsIn(scope, from);
  const bucket = bucketOf(unit, d.at);
  const verdict = sql<string>`${d.payload} ->> 'verdict'`;
  const rows = await db.select({ bucket, key: verdict, n: count() }).from(d.source).where(d.where).groupBy(bucket, verdict);
  return rows.map((r) => ({ bucket: Number(r.bucket), key: r.key, n: Number(r.n) }));
}

export async function topDenyReasons(db: Db, scope: StatsScope, from: number, limit = 5) {
  const d = decisionsIn(scope, from, deniedOnly);
  // a reason is policy text or a failure message, which may quote a statement: 300 characters say enough
  const reason = sql<string>`left(coalesce(${d.payload} ->> 'reason', ''), 300)`;
  const rows = await db.select({ reason, count: count() }).from(d.source).where(d.where).groupBy(reason).orderBy(desc(count()), reason).limit(limit);
  return rows.map((r) => ({ reason: r.reason, count: Number(r.count) }));
}

/** The policies named by denials (a denial names each forbid that decided it). */
export async function topDenyPolicies(db: Db, scope: StatsScope, from: number, limit = 5) {
  const d = decisionsIn(scope, from, deniedOnly);
  const policies = sql`case when jsonb_typeof(${d.payload} -> 'policies') = 'array' then ${d.payload} -> 'policies' else '[]'::jsonb end`;
  const named = db.select({ policy: sql<string>`jsonb_array_elements_text(${policies})`.as("policy") }).from(d.source).where(d.where).as("named");
  const rows = await db.select({ policy: named.policy, count: count() }).from(named).groupBy(named.policy).orderBy(desc(count()), named.policy).limit(limit);
  return rows.map((r) => ({ policy: r.policy, count: Number(r.count) }));
}

function approvalScope(scope: StatsScope): SQL[] {
  const conds: SQL[] = [];
  if (scope.requesterId) conds.push(eq(approvalRequests.requesterId, scope.requesterId));
  if (scope.branch) conds.push(chainNamesToken(approvalRequests.chain, scope.branch));
  return conds;
}

export async function pendingApprovals(db: Db, scope: StatsScope): Promise<number> {
  const [row] = await db.select({ n: count() }).from(approvalRequests).where(and(eq(approvalRequests.status, "pending"), ...approvalScope(scope)));
  return Number(row?.n ?? 0);
}

/**
 * Requests a person decided (approved, later maybe used; or denied) per bucket of their decision,
 * and the median and 90th percentile of how long they waited. Expired and cancelled ones nobody
 * decided: counting them would make the approvers look faster or slower than they are.
 */
const outcome = sql<string>`case when ${approvalRequests.status} = 'used' then 'approved' else ${approvalRequests.status} end`;
function decidedIn(scope: StatsScope, from: number) {
  return and(inArray(approvalRequests.status, ["approved", "used", "denied"]), isNotNull(approvalRequests.decidedAt), gte(approvalRequests.decidedAt, atTime(from)), ...approvalScope(scope));
}

export async function approvalsDecidedPerBucket(db: Db, scope: StatsScope, unit: Unit, from: number): Promise<BucketRow[]> {
  const bucket = bucketOf(unit, sql`${approvalRequests.decidedAt}`);
  const rows = await db.select({ bucket, key: outcome, n: count() }).from(approvalRequests).where(decidedIn(scope, from)).groupBy(bucket, outcome);
  return rows.map((r) => ({ bucket: Number(r.bucket), key: r.key, n: Number(r.n) }));
}

export async function approvalWaits(db: Db, scope: StatsScope, from: number): Promise<{ medianSeconds: number | null; p90Seconds: number | null }> {
  const wait = sql`extract(epoch from ${approvalRequests.decidedAt} - ${approvalRequests.createdAt})`;
  const [row] = await db
    .select({
      median: sql<number | null>`(percentile_cont(0.5) within group (order by ${wait}))::float8`,
      p90: sql<number | null>`(percentile_cont(0.9) within group (order by ${wait}))::float8`,
    })
    .from(approvalRequests)
    .where(decidedIn(scope, from));
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return { medianSeconds: num(row?.median), p90Seconds: num(row?.p90) };
}

export async function liveSessionsBySeries(db: Db, scope: StatsScope): Promise<{ key: string; n: number }[]> {
  const rows = await db
    .select({ key: seriesOf, n: count() })
    .from(sessions)
    .where(and(eq(sessions.status, "live"), ...sessionScope(scope)))
    .groupBy(seriesOf);
  return rows.map((r) => ({ key: r.key, n: Number(r.n) }));
}
