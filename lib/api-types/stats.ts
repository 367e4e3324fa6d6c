/**
 * What `GET /api/v1/stats?range=24h|7d|30d` answers (times as epoch milliseconds, buckets in
 * UTC). Types only, like session.ts: the console's Overview page reads it.
 */
export type StatsRange = "24h" | "7d" | "30d";

/** Sessions are stacked by where they came from: native clients by protocol, plus the MCP and browser-console origins. */
export const SESSION_SERIES = ["postgres", "ssh", "mysql", "kubernetes", "http", "mcp", "web-console"] as const;
export const VERDICTS = ["allow", "mask", "hold", "deny"] as const;
export const APPROVAL_OUTCOMES = ["approved", "denied"] as const;

/** One bucket (an hour or a day) with a count per series. */
export interface StatsBucket<K extends string> {
  start: number;
  counts: Record<K, number>;
}

export interface StatsJson {
  range: StatsRange;
  unit: "hour" | "day";
  /** the first bucket's start; every count below is from then on */
  from: number;
  /** the database's clock when the numbers were taken */
  now: number;
  /** "all" for auditors, approvers and admins; "own" for a member (their sessions), or an agent or narrowed token (its branch) */
  scope: "all" | "own";
  sessions: StatsBucket<(typeof SESSION_SERIES)[number]>[];
  decisions: StatsBucket<(typeof VERDICTS)[number]>[];
  topDenyReasons: { reason: string; count: number }[];
  topDenyPolicies: { policy: string; count: number }[];
  approvals: {
    pending: number;
    decided: StatsBucket<(typeof APPROVAL_OUTCOMES)[number]>[];
    /** seconds from request to decision, over the requests decided in the range (null when none) */
    medianSeconds: number | null;
    p90Seconds: number | null;
  };
  live: { total: number; bySeries: Record<(typeof SESSION_SERIES)[number], number> };
  /** the gateway processes and their heartbeat age; null when the caller may not see them */
  nodes: { nodeId: string; silentSeconds: number; liveSessions: number; gone: boolean }[] | null;
}
