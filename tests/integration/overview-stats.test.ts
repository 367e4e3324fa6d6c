import { randomUUID } from "node:crypto";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Db } from "@/db/client";
import * as schema from "@/db/schema";
import type { StatsBucket, StatsJson } from "@/lib/api-types/stats";
import type { Caller } from "@/lib/auth/caller";
import { RANGES } from "@/lib/stats/buckets";
import { overviewStats } from "@/lib/stats/overview";
import { addApprover, addConnection, addUser, heldApproval, pgUpstream, putPolicies, sshUpstream, type Rec } from "../support/api-fixture";
import { apiCall, exchangeToken, login, ROOT, startGatehouse, teardown, type GatehouseProcess } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";
import { sshExec, type SshTarget } from "../support/ssh-client";
import { startSshd, type Sshd } from "../support/sshd";
import { expectedStats, seedLongLiveSession, seedStats, type Expected, type Seeded } from "../support/stats-seed";

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
  /** EXPLAIN (FORMAT JSON) of a statement, run too (ANALYZE) when `analyze` */
  let explain: (text: string, params: unknown[], analyze?: boolean) => Promise<unknown>;
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
      explain = async (text, params, analyze) => (await client.query<{ "QUERY PLAN": unknown }>(`explain (${analyze ? "analyze, " : ""}format json) ${text}`, params)).rows[0]["QUERY PLAN"];
      close = () => client.close();
    } else {
      pg = await startPostgres15();
      const client = postgres(pg.url, { max: 1, onnotice: () => {} });
      db = drizzlePostgres(client, { schema, logger }) as unknown as Db;
      await migratePostgres(db as never, { migrationsFolder: MIGRATIONS });
      explain = async (text, params, analyze) => (await client.unsafe(`explain (${analyze ? "analyze, " : ""}format json) ${text}`, params as never[]))[0]["QUERY PLAN"];
      close = async () => {
        await client.end();
        await pg!.stop();
      };
    }
    now = Date.now();
    seed = await seedStats(db, { now, userIds: [MEMBER, OTHER], sessions: 2000, eventsPerSession: 50 });
    expect(seed.events).toBe(100_000);
    await seedLongLiveSession(db, seed, { now, userId: OTHER, days: 40, output: 20_000, decisions: 10 });
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

  it("reads only the decided events of the range, not the output of a session live for 40 days", async () => {
    statements.length = 0;
    const got = await overviewStats(db, admin, "24h");
    expectMatches(got, expectedStats(seed, got.from, RANGES["24h"].ms));
    const onEvents = statements.filter((s) => s.text.includes('"session_events"'));
    expect(onEvents.length).toBeGreaterThanOrEqual(3);
    for (const s of onEvents) {
      // rows of session_events the statement touched: returned by its scans, or fetched and filtered out
      const scans = nodes(await explain(s.text, s.params, true)).filter((n) => n["Relation Name"] === "session_events");
      const touched = scans.reduce((a, n) => a + ((Number(n["Actual Rows"]) || 0) + (Number(n["Rows Removed by Filter"]) || 0) + (Number(n["Rows Removed by Index Recheck"]) || 0)) * (Number(n["Actual Loops"]) || 1), 0);
      // the range's decided events number in the hundreds; the live session's output alone is 20,000
      expect(touched, s.text).toBeLessThan(3000);
    }
  });

  it("shows at most 300 characters of a deny reason, however long the recorded one (last: it adds a session)", async () => {
    const id = randomUUID();
    await db.insert(schema.sessions).values({ id, userId: OTHER, userEmail: "long@example.test", chain: [], connectionName: "db", protocol: "postgres", status: "live" });
    const reason = `statement could not be parsed: ${"select ".repeat(2000)}`;
    for (const seq of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]) await db.insert(schema.sessionEvents).values({ sessionId: id, seq, tMs: seq, kind: "request", payload: { action: "query", verdict: "deny", policies: [], reason } });
    const top = (await overviewStats(db, admin, "24h")).topDenyReasons;
    expect(top.find((r) => r.reason.startsWith("statement could not be parsed"))).toEqual({ reason: reason.slice(0, 300), count: 10 });
  });
});

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("reads")
permit (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"exec"], resource);

@id("probe-masked")
@mask("pii")
permit (principal, action == Gatehouse::Action::"read", resource)
when { context.request.text like "*mask_probe*" };

@id("writes-held")
@hold("approvers")
permit (principal, action, resource)
when { context.request.kind == "write" };

@id("no-probes")
@reason("no deny probes here")
forbid (principal, action, resource)
when { context.request.text like "*deny_probe*" };
`;

/**
 * Real Gatehouse, real psql, ssh and an MCP client through it, real approvals: the Overview's numbers equal what
 * the session list, the recordings and the approval queue say, and each caller counts only what
 * those lists show it — a member its own, an agent its branch, an auditor everything.
 */
describe("GET /api/v1/stats against sessions made with psql and ssh", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let sshd: Sshd;
  const tok = { admin: "", ops: "", dev: "", auditor: "", approver: "" };
  const stats = async (token: string, range = "24h") => {
    const res = await apiCall(gh.url, token, "GET", `/stats?range=${range}`);
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as StatsJson;
  };
  const psql = (token: string, email: string, sqlText: string) => runPsql(gatewayConninfo(gh.ports.postgres, "app-db", email), token, ["-A", "-t", "-c", sqlText]);
  const gw = (token: string): SshTarget => ({ port: gh.ports.ssh, user: "box", password: token });

  /** Runs a statement that policy holds, and has the approver decide it. */
  async function heldThenDecided(token: string, email: string, text: string, decision: "approve" | "deny") {
    const run = psql(token, email, text);
    const approval = await heldApproval(gh, tok.approver, text);
    await new Promise((r) => setTimeout(r, 1100)); // a wait long enough to show in the median
    const res = await apiCall(gh.url, tok.approver, "POST", `/approvals/${approval.id}/${decision}`, decision === "deny" ? { reason: "not today" } : {});
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return run;
  }

  beforeAll(async () => {
    [gh, pg15, sshd] = await Promise.all([startGatehouse({ demo: false }), startPostgres15(), startSshd()]);
    tok.admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    tok.ops = await addUser(gh, tok.admin, "ops@example.test");
    tok.dev = await addUser(gh, tok.admin, "dev@example.test");
    tok.auditor = await addUser(gh, tok.admin, "auditor@example.test", { role: "auditor" });
    tok.approver = await addApprover(gh, tok.admin);
    await addConnection(gh, tok.admin, "app-db", pgUpstream(pg15));
    await addConnection(gh, tok.admin, "box", sshUpstream(sshd));
    await putPolicies(gh, tok.admin, POLICIES, "overview");
    const direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await direct.unsafe("create table notes (id serial primary key, body text)");
    await direct.end();
  }, 180_000);
  afterAll(async () => {
    await teardown(gh, pg15, sshd);
  });

  it("refuses anonymous callers and a range it does not know", async () => {
    expect((await apiCall(gh.url, null, "GET", "/stats?range=24h")).status).toBe(401);
    const bad = await apiCall(gh.url, tok.admin, "GET", "/stats?range=1y");
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("INVALID");
  });

  it("counts exactly the sessions, verdicts and approvals that were recorded, per caller", async () => {
    // ops: allow, mask, deny, and a write approved; dev: one denied write, ssh (allow, deny) and MCP
    expect((await psql(tok.ops, "ops@example.test", "select 1")).stdout.trim()).toBe("1");
    expect((await psql(tok.ops, "ops@example.test", "select 'mask_probe'")).code).toBe(0);
    expect((await psql(tok.ops, "ops@example.test", "select 'deny_probe'")).stderr).toMatch(/no deny probes here/);
    expect((await heldThenDecided(tok.ops, "ops@example.test", "insert into notes (body) values ('a')", "approve")).code).toBe(0);
    expect((await heldThenDecided(tok.dev, "dev@example.test", "insert into notes (body) values ('b')", "deny")).code).not.toBe(0);
    expect((await sshExec(gw(tok.dev), "echo overview")).stdout.trim()).toBe("overview");
    expect((await sshExec(gw(tok.dev), "echo deny_probe")).code).not.toBe(0);
    // and an MCP tool call of dev's: its session counts as "mcp", whatever it reached
    const mcp = new Client({ name: "overview-test", version: "1.0.0" });
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${gh.url}/api/mcp`), { requestInit: { headers: { authorization: `Bearer ${tok.dev}` } } }));
    try {
      const res = (await mcp.callTool({ name: "run_sql", arguments: { connection: "app-db", sql: "select 1 as one" } })) as CallToolResult;
      expect(res.isError ?? false, JSON.stringify(res.content)).toBe(false);
    } finally {
      await mcp.close();
    }

    // every session over and flushed
    let list: Rec[] = [];
    await expect.poll(async () => (list = (await apiCall(gh.url, tok.admin, "GET", "/sessions")).body.sessions).filter((s: Rec) => s.status === "live").length, { timeout: 15_000 }).toBe(0);
    expect(list).toHaveLength(8);

    // what the recordings say, read one by one through the export
    const verdictsOf = async (id: string) => {
      const res = await fetch(`${gh.url}/api/v1/sessions/${id}/export?format=jsonl`, { headers: { authorization: `Bearer ${tok.admin}` } });
      const lines = (await res.text()).trim().split("\n").map((l) => JSON.parse(l) as Rec);
      return lines.filter((l) => ["request", "connect"].includes(l.kind) && l.payload?.verdict).map((l) => l.payload as Rec);
    };
    const recorded = new Map<string, Rec[]>();
    for (const s of list) recorded.set(s.id, await verdictsOf(s.id));
    const tally = (sessions: Rec[]) => {
      const verdicts: Record<string, number> = {};
      const reasons: Record<string, number> = {};
      for (const s of sessions)
        for (const v of recorded.get(s.id)!) {
          verdicts[v.verdict] = (verdicts[v.verdict] ?? 0) + 1;
          if (v.verdict === "deny") reasons[v.reason ?? ""] = (reasons[v.reason ?? ""] ?? 0) + 1;
        }
      return { verdicts, reasons };
    };
    const sum = (buckets: StatsBucket<string>[]) => {
      const out: Record<string, number> = {};
      for (const b of buckets) for (const [k, n] of Object.entries(b.counts)) if (n) out[k] = (out[k] ?? 0) + n;
      return out;
    };
    const seriesOf = (s: Rec) => (["mcp", "web-console"].includes(s.origin) ? s.origin : s.protocol) as "postgres";
    const bySeries = (sessions: Rec[]) => {
      const out: Record<string, number> = {};
      for (const s of sessions) out[seriesOf(s)] = (out[seriesOf(s)] ?? 0) + 1;
      return out;
    };

    const all = await stats(tok.auditor);
    expect(all.scope).toBe("all");
    expect(all.unit).toBe("hour");
    expect(all.sessions).toHaveLength(24);
    expect(sum(all.sessions)).toEqual({ postgres: 5, ssh: 2, mcp: 1 });
    expect(sum(all.sessions)).toEqual(bySeries(list));
    // each session in the hour it started
    for (const s of list) {
      const b = all.sessions.find((x) => x.start <= Date.parse(s.startedAt) && Date.parse(s.startedAt) < x.start + 3_600_000);
      expect(b && b.counts[seriesOf(s)], s.startedAt).toBeGreaterThan(0);
    }
    const everyone = tally(list);
    expect(sum(all.decisions)).toEqual(everyone.verdicts);
    expect(everyone.verdicts).toMatchObject({ mask: 1, hold: 2, deny: 2 });
    expect(Object.fromEntries(all.topDenyReasons.map((r) => [r.reason, r.count]))).toEqual(everyone.reasons);
    expect(all.topDenyPolicies).toEqual([{ policy: "no-probes", count: 2 }]);
    expect(all.approvals.pending).toBe(0);
    expect(sum(all.approvals.decided)).toEqual({ approved: 1, denied: 1 });
    const waits = ((await apiCall(gh.url, tok.admin, "GET", "/approvals?status=decided")).body.approvals as Rec[]).map((a) => (Date.parse(a.decidedAt) - Date.parse(a.createdAt)) / 1000).sort((a, b) => a - b);
    expect(waits).toHaveLength(2);
    expect(all.approvals.medianSeconds).toBeCloseTo((waits[0] + waits[1]) / 2, 1);
    expect(all.approvals.p90Seconds).toBeCloseTo(waits[0] + 0.9 * (waits[1] - waits[0]), 1);
    expect(all.approvals.medianSeconds).toBeGreaterThan(1);
    expect(all.live.total).toBe(0);
    expect(all.nodes).toEqual([]); // the embedded store: one process, no heartbeats

    // a member counts their own only, everywhere
    const opsSessions = list.filter((s) => s.userEmail === "ops@example.test");
    const ops = await stats(tok.ops);
    expect(ops.scope).toBe("own");
    expect(sum(ops.sessions)).toEqual({ postgres: 4 });
    expect(sum(ops.decisions)).toEqual(tally(opsSessions).verdicts);
    expect(ops.topDenyReasons).toEqual([{ reason: "no deny probes here", count: 1 }]);
    expect(sum(ops.approvals.decided)).toEqual({ approved: 1 });
    expect(ops.nodes).toBeNull();
    const dev = await stats(tok.dev);
    expect(sum(dev.sessions)).toEqual({ postgres: 1, ssh: 2, mcp: 1 });
    expect(sum(dev.approvals.decided)).toEqual({ denied: 1 });
    expect(sum(dev.decisions)).toEqual(tally(list.filter((s) => s.userEmail === "dev@example.test")).verdicts);

    // 7 and 30 days: the same sessions, per day
    for (const range of ["7d", "30d"]) {
      const r = await stats(tok.admin, range);
      expect(r.unit).toBe("day");
      expect(r.sessions).toHaveLength(range === "7d" ? 7 : 30);
      expect(sum(r.sessions)).toEqual({ postgres: 5, ssh: 2, mcp: 1 });
      expect(sum(r.decisions)).toEqual(everyone.verdicts);
    }
  });

  it("an agent counts its own branch only; a live session shows as live", async () => {
    const root = (await apiCall(gh.url, tok.ops, "POST", "/tokens", { name: "root", ttlSeconds: 3600 })).body.token as string;
    const agent = (await exchangeToken(gh.url, root, "claude")).access_token;
    const before = await stats(agent);
    expect(before.scope).toBe("own");
    expect(before.sessions.every((b) => Object.values(b.counts).every((n) => n === 0))).toBe(true);
    expect(before.decisions.every((b) => Object.values(b.counts).every((n) => n === 0))).toBe(true);
    expect(before.approvals.decided.every((b) => Object.values(b.counts).every((n) => n === 0))).toBe(true);
    // the agent holds a session open: it is live, for the agent, its human and the auditor
    const held = postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "app-db", username: "ops@example.test", password: agent, ssl: false, max: 1, onnotice: () => {} });
    try {
      await held`select 1`;
      const mine = await stats(agent);
      expect(mine.live).toMatchObject({ total: 1, bySeries: { postgres: 1 } });
      expect(mine.sessions.reduce((a, b) => a + b.counts.postgres, 0)).toBe(1);
      expect((await stats(tok.auditor)).live.total).toBe(1);
      expect((await stats(tok.ops)).live.total).toBe(1);
      expect((await stats(tok.dev)).live.total).toBe(0);
    } finally {
      await held.end({ timeout: 1 });
    }
  });
});
