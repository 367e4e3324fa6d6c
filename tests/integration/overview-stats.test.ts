import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import * as schema from "@/db/schema";
import type { StatsBucket, StatsJson } from "@/lib/api-types/stats";
import type { Caller } from "@/lib/auth/caller";
import { RANGES } from "@/lib/stats/buckets";
import { overviewStats } from "@/lib/stats/overview";
import { ROOT } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { expectedStats, seedStats, type Expected, type Seeded } from "../support/stats-seed";

const MIGRATIONS = path.join(ROOT, "db/migrations");
const ADMIN = "11111111-1111-4111-8111-111111111111";
const MEMBER = "22222222-2222-4222-8222-222222222222";
const OTHER = "33333333-3333-4333-8333-333333333333";

/** A plot's buckets as the plain code's map has them (empty buckets and series left out). */
function asMap(buckets: StatsBucket<string>[]): Map<number, Record<string, number>> {
  const m = new Map<number, Record<string, number>>();
  for (const b of buckets) {
    const nonzero = Object.fromEntries(Object.entries(b.counts).filter(([, n]) => n > 0));
    if (Object.keys(nonzero).length) m.set(b.start, nonzero);
  }
  return m;
}
const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).slice(0, 5);

function expectMatches(got: StatsJson, want: Expected) {
  expect(asMap(got.sessions)).toEqual(want.sessions);
  expect(asMap(got.decisions)).toEqual(want.decisions);
  expect(got.topDenyReasons.map((r) => [r.reason, r.count]).sort()).toEqual(sorted(want.denyReasons).sort());
  expect(got.topDenyPolicies.map((r) => [r.policy, r.count]).sort()).toEqual(sorted(want.denyPolicies).sort());
  expect(Object.fromEntries(Object.entries(got.live.bySeries).filter(([, n]) => n > 0))).toEqual(want.live);
}

/**
 * The aggregates themselves, on both stores Gatehouse runs on, over 100k recorded events: exact
 * against plain code per range and per scope, and (EXPLAIN of every statement the Overview ran)
 * never a scan of the whole event table for the short ranges.
 */
describe.each(["pglite", "postgres"] as const)("Overview aggregates over 100k events on %s", (store) => {
  let pg: Postgres15 | undefined;
  let db: Db;
  let explain: (text: string, params: unknown[]) => Promise<unknown>;
  let close: () => Promise<void>;
  let seed: Seeded;
  let now: number;
  const statements: { text: string; params: unknown[] }[] = [];
  const logger = { logQuery: (text: string, params: unknown[]) => void statements.push({ text, params }) };
  const admin: Caller = { userId: ADMIN, email: "admin@example.test", role: "admin", groups: [], via: "token" };
  const member: Caller = { userId: MEMBER, email: "u0@example.test", role: "member", groups: [], via: "token" };

  beforeAll(async () => {
    if (store === "pglite") {
      const client = new PGlite();
      db = drizzlePglite(client, { schema, logger }) as unknown as Db;
      await migratePglite(db as never, { migrationsFolder: MIGRATIONS });
      explain = async (text, params) => (await client.query<{ "QUERY PLAN": unknown }>(`explain (format json) ${text}`, params)).rows[0]["QUERY PLAN"];
      close = () => client.close();
    } else {
      pg = await startPostgres15();
      const client = postgres(pg.url, { max: 1, onnotice: () => {} });
      db = drizzlePostgres(client, { schema, logger }) as unknown as Db;
      await migratePostgres(db as never, { migrationsFolder: MIGRATIONS });
      explain = async (text, params) => (await client.unsafe(`explain (format json) ${text}`, params as never[]))[0]["QUERY PLAN"];
      close = async () => {
        await client.end();
        await pg!.stop();
      };
    }
    now = Date.now();
    seed = await seedStats(db, { now, userIds: [MEMBER, OTHER], sessions: 2000, eventsPerSession: 50 });
    expect(seed.events).toBe(100_000);
    await db.execute(sql`analyze`);
  }, 300_000);
  afterAll(async () => {
    await close?.();
  });

  for (const range of ["24h", "7d", "30d"] as const) {
    it(`counts exactly what was recorded (${range}), for an admin and for a member`, async () => {
      const all = await overviewStats(db, admin, range);
      expect(all.sessions).toHaveLength(RANGES[range].buckets);
      expect(all.scope).toBe("all");
      expectMatches(all, expectedStats(seed, all.from, RANGES[range].ms));
      const own = await overviewStats(db, member, range);
      expect(own.scope).toBe("own");
      expect(own.nodes).toBeNull();
      expectMatches(own, expectedStats(seed, own.from, RANGES[range].ms, MEMBER));
      // the member's are fewer than everyone's, and not zero: the scope really narrowed
      const total = (s: StatsJson) => s.sessions.reduce((a, b) => a + Object.values(b.counts).reduce((x, y) => x + y, 0), 0);
      expect(total(own)).toBeGreaterThan(0);
      expect(total(own)).toBeLessThan(total(all));
    });
  }

  /** Every plan node of an EXPLAIN (FORMAT JSON) answer. */
  function nodes(plan: unknown): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    const walk = (n: Record<string, unknown>) => {
      out.push(n);
      for (const c of (n.Plans as Record<string, unknown>[] | undefined) ?? []) walk(c);
    };
    for (const p of (typeof plan === "string" ? JSON.parse(plan) : plan) as { Plan: Record<string, unknown> }[]) walk(p.Plan);
    return out;
  }

  for (const range of ["24h", "7d"] as const) {
    it(`reads the events of the range's sessions by their key, never the whole event table (${range})`, async () => {
      statements.length = 0;
      await overviewStats(db, admin, range);
      const onEvents = statements.filter((s) => s.text.includes('"session_events"'));
      expect(onEvents.length).toBeGreaterThanOrEqual(3);
      for (const s of onEvents) {
        const plan = nodes(await explain(s.text, s.params));
        if (process.env.GH_DEBUG) console.log(store, range, JSON.stringify(plan.map((n) => [n["Node Type"], n["Relation Name"], n["Index Name"]])));
        expect(plan.filter((n) => n["Node Type"] === "Seq Scan" && n["Relation Name"] === "session_events"), s.text).toEqual([]);
      }
    });
  }
});
