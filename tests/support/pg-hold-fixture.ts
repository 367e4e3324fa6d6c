import postgres from "postgres";
import { afterAll, beforeAll, expect } from "vitest";
import { build, encodeFrontend, type FrontendMessage } from "@/lib/gateway/protocols/postgres/wire";
import { addApprover, addConnection, addUser, pgUpstream, putPolicies, type Rec } from "./api-fixture";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "./gatehouse";
import { comparable, describeSequence, lostToReset, WireClient, type Got } from "./pg-wire-client";
import { startPostgres15, type Postgres15 } from "./postgres";

/**
 * The setup of the PostgreSQL gateway's hold and deny differential tests
 * (tests/integration/postgres-hold-differential.test.ts, postgres-deny-differential.test.ts):
 * a PostgreSQL 15 with the tables below, a Gatehouse with three connections to it under the
 * policies below, an approver that approves every pending approval the moment it appears (a
 * poller, through the REST API), and the runs: a sequence of raw protocol messages sent directly
 * and through the gateway, each from the same table contents, every answer collected up to a
 * marker query. What is compared and why: the test files' comments.
 */

const POLICIES = `
@id("everything")
permit (principal, action, resource);

@id("hold-writes")
@hold("approvers")
permit (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"write", Gatehouse::Action::"ddl", Gatehouse::Action::"admin"], resource)
when { resource.name == "hold-writes" && context.request.kind != "read" };

@id("hold-table")
@hold("approvers")
permit (principal, action in [Gatehouse::Action::"read", Gatehouse::Action::"write", Gatehouse::Action::"ddl", Gatehouse::Action::"admin"], resource)
when { resource.name == "hold-table" && context.request.tables.contains("hd_x") };

@id("deny-secret")
@reason("hd_secret is off limits")
forbid (principal, action, resource)
when { resource.name == "deny" && context.request.tables.contains("hd_secret") };
`;

export type Target = "hold-writes" | "hold-table" | "deny";


const USER = "hold-differential@example.test";
const END = "hold-differential-end";
/** How long one side may take to answer a sequence (holds included; the machine is shared). */
const ANSWER_MS = 15_000;
const HELD = /^held for approval #(\d+): (\S+)$/;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * hd_t and hd_x as every run finds them, down to the order of their rows on disk; hd_in only
 * receives COPY data and is never read. Truncated, not deleted from: an UPDATE ... RETURNING has
 * no ORDER BY and returns its rows in heap order, and rows inserted after a DELETE go wherever
 * the free space map and the session's last-used page put them, which depends on everything run
 * before (and on when autovacuum last ran): the direct side and the gateway's, each after its own
 * reset, then got the same rows in another order (once in some 2,600 generated runs). After
 * TRUNCATE they go to a new, empty first page, in order; autovacuum is off for these tables so
 * that nothing rearranges a page during a run either.
 */
const RESET = `
  begin;
  truncate hd_t, hd_x, hd_in;
  insert into hd_t values (1, 'one'), (2, 'two'), (3, null);
  insert into hd_x values (1, 'x1'), (2, 'x2');
  commit`;

/** The approval a "held for approval" notice names, or null for any other message. */
function heldNotice(m: Got): { id: number; url: string } | null {
  if (m.type !== "NoticeResponse") return null;
  const f = m.fields as unknown as Record<string, string | undefined>;
  const hit = f.severity === "NOTICE" && f.code === "00000" ? HELD.exec(f.message ?? "") : null;
  return hit ? { id: Number(hit[1]), url: hit[2] } : null;
}

export interface Answers {
  /** every message but the held notices, as compared */
  msgs: string[];
  /** the held notices, in order */
  held: { id: number; url: string }[];
}

/**
 * Sends `seq`, then Sync and a Query ending any transaction and returning a marker row, and
 * collects every answer up to the marker's ReadyForQuery (or the peer closing, or a timeout).
 * On the hold connections the final Query is a read and never held.
 */
export async function answers(c: WireClient, seq: readonly FrontendMessage[]): Promise<Answers> {
  c.write(Buffer.concat([...seq.map(encodeFrontend), build.sync(), build.query(`rollback; select '${END}' as marker`)]));
  const endRow = () => c.msgs.findIndex((m) => m.type === "DataRow" && m.values[0]?.toString() === END);
  const done = await c.until(() => {
    const i = endRow();
    return i >= 0 && c.msgs.slice(i).some((m) => m.type === "ReadyForQuery");
  });
  const got: Got[] = [...c.msgs];
  if (!done) got.push({ type: c.closed ? "CLOSED" : "TIMEOUT" });
  const held = got.map(heldNotice).filter((h) => h !== null);
  return { msgs: got.filter((m) => !heldNotice(m)).map((m) => comparable(m, c.pid)), held };
}

/** Registers the servers' start and stop (call inside a describe) and returns the runs. */
export function holdDifferential() {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let setup: postgres.Sql;
  let token = "";
  let approverToken = "";
  /** what the poller approved, in order */
  const approved: Rec[] = [];
  /** approvals the poller could not approve (none may fail) */
  const pollerErrors: string[] = [];
  let polling = true;
  let poller: Promise<void> = Promise.resolve();

  /** The approver: approves every pending approval as soon as it shows up. */
  async function approveEverything() {
    const seen = new Set<number>();
    while (polling) {
      const list = await apiCall(gh.url, approverToken, "GET", "/approvals?status=pending").catch(() => null);
      for (const a of (list?.body?.approvals ?? []) as Rec[]) {
        if (seen.has(a.id)) continue;
        // Counted as this run's before the answer: the client may get its rows before the approver does.
        seen.add(a.id);
        approved.push(a);
        const res = await apiCall(gh.url, approverToken, "POST", `/approvals/${a.id}/approve`, {});
        if (res.status !== 200) {
          pollerErrors.push(`approving #${a.id} failed (${res.status}): ${JSON.stringify(res.body)}`);
          continue;
        }
      }
      await sleep(25);
    }
  }

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    setup = postgres(pg15.url, { max: 1, onnotice: () => {} });
    await setup.unsafe(`
      create table hd_t (id int primary key, name text) with (autovacuum_enabled = off);
      create table hd_x (id int primary key, v text) with (autovacuum_enabled = off);
      create table hd_in (id int, name text) with (autovacuum_enabled = off);
      create table hd_secret (id int, s text);
      insert into hd_secret values (1, 'classified')`);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, USER);
    approverToken = await addApprover(gh, admin);
    for (const name of ["hold-writes", "hold-table", "deny"] satisfies Target[]) await addConnection(gh, admin, name, pgUpstream(pg15));
    await putPolicies(gh, admin, POLICIES, "hold differential");
    poller = approveEverything();
  }, 120_000);

  afterAll(async () => {
    polling = false;
    await poller.catch(() => {});
    await setup?.end();
    await teardown(gh, pg15);
  });

  async function reset() {
    await setup.unsafe(RESET);
  }

  async function runDirect(seq: readonly FrontendMessage[]): Promise<Answers> {
    await reset();
    const d = await WireClient.open(pg15.port, ANSWER_MS);
    try {
      await d.loginDirect();
      return await answers(d, seq);
    } finally {
      await d.end();
    }
  }

  /** A client logged in to the gateway on that connection. */
  async function openGateway(target: Target): Promise<WireClient> {
    const g = await WireClient.open(gh.ports.postgres, ANSWER_MS);
    await g.loginGateway(token, { user: USER, database: target });
    return g;
  }

  async function runGateway(seq: readonly FrontendMessage[], target: Target): Promise<{ got: Answers; approvals: Rec[] }> {
    await reset();
    const g = await openGateway(target);
    try {
      const from = approved.length;
      const started = Date.now();
      const got = await answers(g, seq);
      // An approval the poller reached only after an earlier run's session had ended belongs to that run.
      return { got, approvals: approved.slice(from).filter((a) => new Date(a.createdAt).getTime() >= started) };
    } finally {
      await g.end();
    }
  }

  /**
   * The same sequence directly and through the gateway (one after the other, each from the same
   * table contents). Asserts the held notices are one per approval given during the gateway's run
   * and everything else is equal; returns the approvals for the caller's own checks.
   */
  async function expectSameOnceApproved(seq: readonly FrontendMessage[], target: Exclude<Target, "deny"> = "hold-writes"): Promise<{ direct: string[]; approvals: Rec[] }> {
    const direct = await runDirect(seq);
    const { got, approvals } = await runGateway(seq, target);
    const where = `sequence:\n${describeSequence(seq)}`;
    expect(pollerErrors).toEqual([]);
    expect(direct.held, where).toEqual([]);
    if (!lostToReset(direct.msgs, got.msgs)) expect(got.msgs, where).toEqual(direct.msgs);
    // One notice per approval given, in order. A hold still waiting when the upstream ended the
    // session (FATAL) was told too, and its approval cancelled before the approver saw it.
    const given = new Set(approvals.map((a) => a.id));
    expect(
      got.held.filter((h) => given.has(h.id)),
      where,
    ).toEqual(approvals.map((a) => ({ id: a.id, url: a.url })));
    for (const h of got.held.filter((h) => !given.has(h.id))) {
      expect(got.msgs.at(-1), where).toBe("CLOSED");
      expect(h.url).toMatch(new RegExp(`/approvals/${h.id}$`));
      // closed out with the session (cancelled, or approved too late to be used): not left pending
      let status = "pending";
      for (let i = 0; i < 60 && status === "pending"; i++, await sleep(50)) status = (await apiCall(gh.url, approverToken, "GET", `/approvals/${h.id}`)).body.approval?.status;
      expect(["cancelled", "approved"], where).toContain(status);
    }
    for (const a of approvals) expect(a.connection?.name ?? a.connection, where).toBe(target);
    return { direct: direct.msgs, approvals };
  }

  return {
    get setup() {
      return setup;
    },
    reset,
    openGateway,
    runDirect,
    runGateway,
    expectSameOnceApproved,
  };
}
