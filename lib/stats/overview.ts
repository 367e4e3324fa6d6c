import type { Db } from "@/db/client";
import { gatewayNodesWithLoad } from "@/db/queries/nodes";
import {
  approvalsDecidedPerBucket,
  approvalWaits,
  decisionsPerBucket,
  liveSessionsBySeries,
  pendingApprovals,
  sessionsPerBucket,
  statsClock,
  topDenyPolicies,
  topDenyReasons,
  type StatsScope,
} from "@/db/queries/stats";
import { APPROVAL_OUTCOMES, SESSION_SERIES, VERDICTS, type StatsJson, type StatsRange } from "@/lib/api-types/stats";
import { managedBranchOf } from "@/lib/auth/agent-branch";
import { can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { approvalsFilterOf } from "@/lib/services/approvals/visibility";
import { nodeIsGone } from "@/lib/services/sessions/node-liveness";
import { fillBuckets, RANGES, rangeStart } from "./buckets";

/**
 * What the caller's Overview may count: the same rows the session list and the approval queue
 * would show it (a member its own, an agent or a narrowed token its branch's), so the totals
 * never tell more than the lists do.
 */
export function statsScopeOf(caller: Caller): StatsScope {
  const all = can(caller, "sessions:read-all");
  const approvals = approvalsFilterOf(caller);
  return { userId: all ? undefined : caller.userId, descendsFrom: managedBranchOf(caller) ?? undefined, requesterId: approvals.requesterId, branch: approvals.branch };
}

export async function overviewStats(db: Db, caller: Caller, range: StatsRange): Promise<StatsJson> {
  const scope = statsScopeOf(caller);
  const { unit } = RANGES[range];
  const clock = await statsClock(db, unit);
  const from = rangeStart(range, clock.current);
  // One after another: PGlite serializes them anyway, and on PostgreSQL one request should not take a pool's worth of connections.
  const sessions = await sessionsPerBucket(db, scope, unit, from);
  const decisions = await decisionsPerBucket(db, scope, unit, from);
  const reasons = await topDenyReasons(db, scope, from);
  const policies = await topDenyPolicies(db, scope, from);
  const pending = await pendingApprovals(db, scope);
  const decided = await approvalsDecidedPerBucket(db, scope, unit, from);
  const waits = await approvalWaits(db, scope, from);
  const live = await liveSessionsBySeries(db, scope);
  const nodes = can(caller, "sessions:read-all") ? await gatewayNodesWithLoad(db) : null;
  const bySeries = Object.fromEntries(SESSION_SERIES.map((s) => [s, 0])) as StatsJson["live"]["bySeries"];
  for (const r of live) if (r.key in bySeries) bySeries[r.key as keyof typeof bySeries] += r.n;
  return {
    range,
    unit,
    from,
    now: clock.now,
    scope: scope.userId || scope.descendsFrom ? "own" : "all",
    sessions: fillBuckets(range, from, SESSION_SERIES, sessions),
    decisions: fillBuckets(range, from, VERDICTS, decisions),
    topDenyReasons: reasons,
    topDenyPolicies: policies,
    approvals: { pending, decided: fillBuckets(range, from, APPROVAL_OUTCOMES, decided), ...waits },
    live: { total: live.reduce((a, r) => a + r.n, 0), bySeries },
    nodes: nodes?.map((n) => ({ nodeId: n.nodeId, silentSeconds: n.silentSeconds, liveSessions: n.liveSessions, gone: nodeIsGone(n) })) ?? null,
  };
}
