import { randomUUID } from "node:crypto";
import type { Db } from "@/db/client";
import { sessionEvents, sessions } from "@/db/schema";

/**
 * A store filled as months of use leave it: sessions spread over 40 days with protocols, origins
 * and owners in rotation, each with terminal output between its decided requests (verdicts in
 * rotation, denials with reasons and policies). `expectedStats` works out what the Overview must
 * count from the same rows in plain code (not SQL), so a wrong aggregate cannot agree with itself.
 */
export interface SeededSession {
  startedAt: number;
  series: string;
  userId: string;
  live: boolean;
}
export interface SeededDecision {
  at: number;
  verdict: string;
  reason?: string;
  policies: string[];
  session: SeededSession;
}
export interface Seeded {
  sessions: SeededSession[];
  decisions: SeededDecision[];
  events: number;
}

const SERIES = [
  { protocol: "postgres", origin: "native", series: "postgres" },
  { protocol: "ssh", origin: "native", series: "ssh" },
  { protocol: "postgres", origin: "mcp", series: "mcp" },
  { protocol: "ssh", origin: "web-console", series: "web-console" },
  { protocol: "postgres", origin: "web-console", series: "web-console" },
] as const;
const VERDICTS = ["allow", "allow", "mask", "hold", "deny", "allow", "deny"] as const;
const REASONS = ["writes need a ticket", "no DDL in production", "forbidden table: secrets"];
const DAY = 86_400_000;
const STEP_MS = 37_000;

export async function seedStats(db: Db, opts: { now: number; userIds: [string, string]; sessions: number; eventsPerSession: number }): Promise<Seeded> {
  const out: Seeded = { sessions: [], decisions: [], events: 0 };
  const sessionRows: (typeof sessions.$inferInsert)[] = [];
  let eventRows: (typeof sessionEvents.$inferInsert)[] = [];
  const flushEvents = async () => {
    if (eventRows.length) await db.insert(sessionEvents).values(eventRows);
    eventRows = [];
  };
  for (let i = 0; i < opts.sessions; i++) {
    const id = randomUUID();
    // Up to 40 days back, and early enough that its last event is past: nothing recorded in the future.
    const startedAt = opts.now - ((i * 29 * 60_000 * 7) % (40 * DAY)) - (opts.eventsPerSession + 1) * STEP_MS;
    const kind = SERIES[i % SERIES.length];
    const owner = i % 3 === 0 ? 0 : 1;
    const s: SeededSession = { startedAt, series: kind.series, userId: opts.userIds[owner], live: i % 50 === 0 };
    out.sessions.push(s);
    sessionRows.push({ id, userId: s.userId, userEmail: `u${owner}@example.test`, chain: [], connectionName: "db", protocol: kind.protocol, origin: kind.origin, status: s.live ? "live" : "ended", startedAt: new Date(startedAt) });
    for (let seq = 1; seq <= opts.eventsPerSession; seq++) {
      const tMs = seq * STEP_MS;
      // every fifth event a decided request (the first the connect), the rest terminal output
      if (seq % 5 === 0) {
        const verdict = VERDICTS[(i + seq) % VERDICTS.length];
        const reason = verdict === "deny" ? REASONS[(i + seq) % REASONS.length] : undefined;
        const policies = verdict === "deny" ? [`forbid-${(i + seq) % 4}`, ...(seq % 10 === 0 ? ["forbid-common"] : [])] : ["permit-all"];
        eventRows.push({ sessionId: id, seq, tMs, kind: seq === 5 ? "connect" : "request", payload: { action: "query", text: "select 1", verdict, policies, ...(reason ? { reason } : {}) } });
        out.decisions.push({ at: startedAt + tMs, verdict, reason, policies, session: s });
      } else {
        eventRows.push({ sessionId: id, seq, tMs, kind: "term.o", payload: { ch: 0, d: "x".repeat(40) } });
      }
      out.events++;
    }
    if (eventRows.length >= 2000) await flushEvents();
  }
  for (let i = 0; i < sessionRows.length; i += 1000) await db.insert(sessions).values(sessionRows.slice(i, i + 1000));
  await flushEvents();
  return out;
}

export interface Expected {
  /** bucket start → series → count */
  sessions: Map<number, Record<string, number>>;
  decisions: Map<number, Record<string, number>>;
  denyReasons: Map<string, number>;
  denyPolicies: Map<string, number>;
  live: Record<string, number>;
}

/**
 * What the Overview must show for buckets of `unitMs` from `from`: sessions started in the range;
 * decisions made in it by sessions started in it or still live; only `userId`'s when given.
 */
export function expectedStats(seed: Seeded, from: number, unitMs: number, userId?: string): Expected {
  const out: Expected = { sessions: new Map(), decisions: new Map(), denyReasons: new Map(), denyPolicies: new Map(), live: {} };
  const bucket = (ms: number) => from + Math.floor((ms - from) / unitMs) * unitMs;
  const bump = (m: Map<number, Record<string, number>>, at: number, key: string) => {
    const r = m.get(bucket(at)) ?? {};
    r[key] = (r[key] ?? 0) + 1;
    m.set(bucket(at), r);
  };
  const add = (m: Map<string, number>, key: string) => m.set(key, (m.get(key) ?? 0) + 1);
  const mine = (s: SeededSession) => !userId || s.userId === userId;
  for (const s of seed.sessions.filter(mine)) {
    if (s.startedAt >= from) bump(out.sessions, s.startedAt, s.series);
    if (s.live) out.live[s.series] = (out.live[s.series] ?? 0) + 1;
  }
  for (const d of seed.decisions) {
    if (!mine(d.session) || d.at < from || !(d.session.startedAt >= from || d.session.live)) continue;
    bump(out.decisions, d.at, d.verdict);
    if (d.verdict !== "deny") continue;
    add(out.denyReasons, d.reason ?? "");
    for (const p of d.policies) add(out.denyPolicies, p);
  }
  return out;
}

/**
 * One terminal session live for `days` (as a long `tmux` or a forgotten shell is), `output` events
 * of screen output, and its last few commands decided within the last hour. Added to `seed`.
 */
export async function seedLongLiveSession(db: Db, seed: Seeded, opts: { now: number; userId: string; days: number; output: number; decisions: number }) {
  const id = randomUUID();
  const s: SeededSession = { startedAt: opts.now - opts.days * DAY, series: "ssh", userId: opts.userId, live: true };
  seed.sessions.push(s);
  await db.insert(sessions).values({ id, userId: s.userId, userEmail: "long@example.test", chain: [], connectionName: "box", protocol: "ssh", origin: "native", status: "live", startedAt: new Date(s.startedAt) });
  const span = opts.days * DAY - 3_600_000;
  let rows: (typeof sessionEvents.$inferInsert)[] = [];
  for (let seq = 1; seq <= opts.output + opts.decisions; seq++) {
    const decision = seq > opts.output;
    const tMs = decision ? span + (seq - opts.output) * 60_000 : Math.floor((seq / opts.output) * span);
    if (decision) seed.decisions.push({ at: s.startedAt + tMs, verdict: "allow", policies: ["permit-all"], session: s });
    rows.push({ sessionId: id, seq, tMs, kind: decision ? "request" : "term.o", payload: decision ? { action: "exec", text: "uptime", verdict: "allow", policies: ["permit-all"] } : { ch: 0, d: "y".repeat(40) } });
    if (rows.length >= 2000) {
      await db.insert(sessionEvents).values(rows);
      rows = [];
    }
    seed.events++;
  }
  if (rows.length) await db.insert(sessionEvents).values(rows);
}
