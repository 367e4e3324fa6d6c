import { randomBytes } from "node:crypto";
import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, FrameReader, parseBackendMessage, type BackendMessage, type ErrorFields } from "@/lib/gateway/protocols/postgres/wire";
import { addApprover, addConnection, addUser, heldApproval, pgUpstream, putPolicies } from "../support/api-fixture";
import { apiCall, type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { startPostgres15, type Postgres15 } from "../support/postgres";
import { gatewayConninfo, runPsql } from "../support/psql";

/**
 * SECURITY.md "Protocol robustness" on the real PostgreSQL listener: hostile frames written by
 * hand on raw sockets (spoofed CancelRequests, SSLRequest mid-session, a session one byte per
 * TCP segment, bad lengths after authentication, a slow-loris startup) against one Gatehouse
 * in front of one PostgreSQL 15. Each case also proves that other sessions keep working.
 */

const POLICIES = `
@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("wire-all")
permit (principal, action, resource)
when { resource.name == "wire" };

@id("mixed-reads")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "wire-mixed" };

@id("mixed-writes")
@hold("approvers")
permit (principal, action == Gatehouse::Action::"write", resource)
when { resource.name == "wire-mixed" };

@id("wire-held")
@hold("approvers")
permit (principal, action == Gatehouse::Action::"read", resource)
when { resource.name == "wire-held" };
`;

const USER = "wire@example.test";
const SLEEP = "select pg_sleep(20) /* wire-hostile */";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A raw wire client: every backend message it got, and whether the gateway closed it. */
class RawClient {
  readonly socket: net.Socket;
  readonly msgs: BackendMessage[] = [];
  private readonly reader = new FrameReader();
  closed = false;
  readonly connected: Promise<void>;

  constructor(port: number) {
    this.socket = net.connect(port, "127.0.0.1");
    this.socket.setNoDelay(true);
    this.socket.on("data", (d) => {
      this.reader.push(d);
      for (let f = this.reader.next(); f; f = this.reader.next()) this.msgs.push(parseBackendMessage(f));
    });
    this.socket.on("error", () => {});
    this.socket.on("close", () => (this.closed = true));
    this.connected = new Promise((r) => this.socket.once("connect", () => r()));
  }

  async until(pred: () => boolean, what: string, ms = 10_000) {
    const deadline = Date.now() + ms;
    while (!pred() && Date.now() < deadline) await sleep(20);
    expect(pred(), `${what}; got ${JSON.stringify(this.msgs.map((m) => m.type))}, closed=${this.closed}`).toBe(true);
  }

  has = (type: BackendMessage["type"]) => this.msgs.some((m) => m.type === type);
  errors = () => this.msgs.flatMap((m) => (m.type === "ErrorResponse" ? [m.fields as ErrorFields] : []));
  write = (b: Buffer) => this.socket.write(b);

  /** Startup and the token as password; resolves with the BackendKeyData the gateway handed out. */
  async login(token: string, database = "wire") {
    await this.connected;
    this.write(build.startupMessage({ user: USER, database }));
    await this.until(() => this.has("AuthenticationCleartextPassword"), "asked for a password");
    this.write(build.password(token));
    await this.until(() => this.has("ReadyForQuery"), "logged in");
    const key = this.msgs.find((m) => m.type === "BackendKeyData") as Extract<BackendMessage, { type: "BackendKeyData" }>;
    this.msgs.splice(0);
    return key;
  }
}

/** Sends one startup-phase packet on a fresh socket; resolves with what came back when it closes. */
function oneShot(port: number, packet: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    const got: Buffer[] = [];
    s.on("data", (d) => got.push(d));
    s.on("error", () => {});
    s.on("close", () => resolve(Buffer.concat(got)));
    s.once("connect", () => s.write(packet));
    setTimeout(() => s.destroy(), 5_000).unref();
  });
}

/** A typed message header with `len` as its length word (what a hostile client chooses). */
function header(tag: string, len: number): Buffer {
  const b = Buffer.alloc(5);
  b.write(tag, 0, "latin1");
  b.writeInt32BE(len | 0, 1);
  return b;
}

describe("PostgreSQL listener: hostile frames", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";
  let approver = "";
  let direct: postgres.Sql;

  const psql = (sql: string) => runPsql(gatewayConninfo(gh.ports.postgres, "wire", USER), token, ["-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql]);
  const client = () => postgres({ host: "127.0.0.1", port: gh.ports.postgres, database: "wire", username: USER, password: token, ssl: false, max: 1, onnotice: () => {} });
  /** the gateway process is alive and a new psql session gets answers */
  const stillServing = async () => {
    expect(gh.proc.exitCode).toBeNull();
    // every hostile frame was a protocol error, handled as such: no internal failure was logged
    expect(gh.output()).not.toMatch(/connection failed|startup failed|uncaught|unhandled/i);
    const r = await psql("select 'still serving'");
    expect(r.stdout.trim(), r.out).toBe("still serving");
  };

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false, env: { GATEHOUSE_PG_STARTUP_TIMEOUT_MS: "6000" } }), startPostgres15()]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, USER);
    await addConnection(gh, admin, "wire", pgUpstream(pg15));
    await addConnection(gh, admin, "wire-held", pgUpstream(pg15));
    await addConnection(gh, admin, "wire-mixed", pgUpstream(pg15));
    approver = await addApprover(gh, admin);
    await putPolicies(gh, admin, POLICIES, "wire hostile");
    direct = postgres(pg15.url, { max: 1, onnotice: () => {} });
  }, 120_000);
  afterAll(async () => {
    await direct?.end();
    await teardown(gh, pg15);
  });

  /** The upstream backend running the long statement, read on PostgreSQL directly. */
  async function sleepingBackend(): Promise<number | null> {
    const rows = await direct`select pid from pg_stat_activity where query = ${SLEEP} and state = 'active'`;
    return rows.length === 1 ? (rows[0].pid as number) : null;
  }

  it("CancelRequest: guessed keys and the upstream's pid cancel nothing; the key the gateway gave the client cancels (57014)", async () => {
    const c = new RawClient(gh.ports.postgres);
    const key = await c.login(token);
    expect(key.secretKey).toHaveLength(4);
    c.write(build.query(SLEEP));
    let upstreamPid: number | null = null;
    for (let i = 0; i < 100 && upstreamPid === null; i++) {
      upstreamPid = await sleepingBackend();
      if (upstreamPid === null) await sleep(50);
    }
    expect(upstreamPid, "the statement runs upstream").not.toBeNull();
    // The client never learns the upstream backend's pid (nor, so, its key).
    expect(key.pid).not.toBe(upstreamPid);

    const wrongKey = Buffer.from(key.secretKey.map((b) => b ^ 0xff));
    const spoofs = [
      build.cancelRequest(key.pid, wrongKey), // the right pid, a guessed key
      build.cancelRequest(key.pid, randomBytes(4)),
      build.cancelRequest(randomBytes(4).readInt32BE(0) & 0x7fffffff, key.secretKey), // the right key, another pid
      build.cancelRequest(upstreamPid!, key.secretKey), // the upstream's pid
      build.cancelRequest(upstreamPid!, randomBytes(4)),
    ];
    // PostgreSQL's behaviour: the cancel socket is closed without a word either way.
    for (const answer of await Promise.all(spoofs.map((p) => oneShot(gh.ports.postgres, p)))) expect(answer).toHaveLength(0);
    await sleep(1000);
    expect(c.msgs, "a spoofed cancel reached the statement").toEqual([]);
    expect(await sleepingBackend()).toBe(upstreamPid);

    const started = Date.now();
    expect(await oneShot(gh.ports.postgres, build.cancelRequest(key.pid, key.secretKey))).toHaveLength(0);
    await c.until(() => c.has("ReadyForQuery"), "the cancelled statement ends", 8_000);
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(c.errors().map((e) => [e.severity, e.code, e.message])).toEqual([["ERROR", "57014", "canceling statement due to user request"]]);
    // the session goes on
    c.msgs.splice(0);
    c.write(build.query("select 40 + 2"));
    await c.until(() => c.has("ReadyForQuery"), "the next statement");
    const row = c.msgs.find((m) => m.type === "DataRow") as Extract<BackendMessage, { type: "DataRow" }>;
    expect(row.values[0]?.toString()).toBe("42");
    c.socket.end(build.terminate());
  }, 40_000);

  it("a CancelRequest while the gateway still decides the statement: it never runs upstream, and the client gets 57014 as from PostgreSQL", async () => {
    const c = new RawClient(gh.ports.postgres);
    const key = await c.login(token);
    c.write(build.query("create table cancel_probe (v int)"));
    await c.until(() => c.has("ReadyForQuery"), "the table is created");
    c.msgs.splice(0);
    // The DDL made the gateway forget this database's catalog: it reads it again before deciding
    // the next statement, and that read waits while catalogs it reads (and this test does not) are locked.
    const lockerDb = postgres(pg15.url, { max: 1, onnotice: () => {} });
    const locker = await lockerDb.reserve();
    try {
      await locker`begin`;
      await locker.unsafe("lock table pg_catalog.pg_ts_parser, pg_catalog.pg_policy, pg_catalog.pg_foreign_table in access exclusive mode");
      c.write(build.query("insert into cancel_probe values (1)"));
      const waiting = async () => (await direct`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid()`)[0].n as number;
      const deadline = Date.now() + 15_000;
      while ((await waiting()) === 0 && Date.now() < deadline) await sleep(50);
      expect(await waiting(), "the gateway's catalog read waits on the lock").toBeGreaterThan(0);
      expect(c.msgs, "nothing answered while the statement is being decided").toEqual([]);
      // the gateway takes the cancel before it closes the cancel socket
      expect(await oneShot(gh.ports.postgres, build.cancelRequest(key.pid, key.secretKey))).toHaveLength(0);
      await locker`commit`;
    } finally {
      locker.release();
      await lockerDb.end();
    }
    await c.until(() => c.has("ReadyForQuery"), "the cancelled statement ends");
    expect(c.errors().map((e) => [e.severity, e.code, e.message])).toEqual([["ERROR", "57014", "canceling statement due to user request"]]);
    expect(await direct`select count(*)::int as n from cancel_probe`).toEqual([{ n: 0 }]);
    c.msgs.splice(0);
    c.write(build.query("insert into cancel_probe values (2)"));
    await c.until(() => c.has("ReadyForQuery"), "the next statement runs");
    expect(c.errors()).toEqual([]);
    expect(await direct`select v from cancel_probe`).toEqual([{ v: 2 }]);
    c.socket.end(build.terminate());
  });

  it("a CancelRequest while the statement is held for approval withdraws the approval and answers 57014", async () => {
    const c = new RawClient(gh.ports.postgres);
    const key = await c.login(token, "wire-held");
    c.write(build.query("select 'held then cancelled'"));
    await c.until(() => c.has("NoticeResponse"), `the hold's notice (${JSON.stringify(c.errors())})`);
    const notice = c.msgs.find((m) => m.type === "NoticeResponse") as Extract<BackendMessage, { type: "NoticeResponse" }>;
    const approvalId = Number(/held for approval #(\d+)/.exec(String(notice.fields.message))?.[1]);
    expect(approvalId).toBeGreaterThan(0);
    expect(await oneShot(gh.ports.postgres, build.cancelRequest(key.pid, key.secretKey))).toHaveLength(0);
    await c.until(() => c.has("ReadyForQuery"), "the cancelled hold ends");
    expect(c.errors().map((e) => [e.code, e.message])).toEqual([["57014", `canceling statement due to user request (it was held for approval #${approvalId}, which is withdrawn)`]]);
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const approval = await apiCall(gh.url, admin, "GET", `/approvals/${approvalId}`);
    expect(approval.body.status ?? approval.body.approval?.status, JSON.stringify(approval.body)).toBe("cancelled");
    c.socket.end(build.terminate());
  });

  it("a CancelRequest while a pipeline's earlier statement runs upstream and a later one is held cancels the running one, as PostgreSQL: the session goes on", async () => {
    await direct`create table if not exists cancel_mixed (v int)`;
    const c = new RawClient(gh.ports.postgres);
    const key = await c.login(token, "wire-mixed");
    const SLEEP6 = "select pg_sleep(6) /* mixed */";
    c.write(Buffer.concat([build.parse({ text: SLEEP6 }), build.bind({}), build.execute(), build.flush()]));
    // sleeping: an errored pipeline's backend stays `active` until Sync, so its wait event tells
    const running = async () => (await direct`select count(*)::int as n from pg_stat_activity where query = ${SLEEP6} and wait_event = 'PgSleep'`)[0].n as number;
    await expect.poll(running, { timeout: 10_000 }).toBe(1);
    c.write(Buffer.concat([build.parse({ text: "insert into cancel_mixed values (1)" }), build.bind({}), build.execute(), build.sync()]));
    await c.until(() => c.has("NoticeResponse"), "the write is held");
    expect(await oneShot(gh.ports.postgres, build.cancelRequest(key.pid, key.secretKey))).toHaveLength(0);
    // the sleep is cancelled upstream at once (not left running behind a closed session)
    await c.until(() => c.errors().length > 0, "the running statement's cancel");
    expect(c.errors().map((e) => e.code), JSON.stringify(c.errors())).toEqual(["57014"]);
    expect(await running()).toBe(0);
    expect(c.closed).toBe(false);
    // the held write is still the approver's; approved, it reaches an upstream that skips to Sync, as PostgreSQL would have
    const a = await heldApproval(gh, approver, /insert into cancel_mixed/);
    expect((await apiCall(gh.url, approver, "POST", `/approvals/${a.id}/approve`, {})).status).toBe(200);
    await c.until(() => c.has("ReadyForQuery"), "the pipeline ends at its Sync");
    expect(await direct`select count(*)::int as n from cancel_mixed`).toEqual([{ n: 0 }]);
    c.msgs.splice(0);
    c.write(build.query("select 40 + 2"));
    await c.until(() => c.has("ReadyForQuery"), "the next statement");
    expect(c.errors()).toEqual([]);
    c.socket.end(build.terminate());
  });

  it("an SSLRequest after startup is a protocol violation (08P01, FATAL): that connection ends, others do not notice", async () => {
    const other = client();
    try {
      expect((await other`select 1 as one`)[0].one).toBe(1);
      const c = new RawClient(gh.ports.postgres);
      await c.login(token);
      c.write(build.sslRequest());
      await c.until(() => c.closed, "the gateway closed the connection");
      expect(c.errors().map((e) => [e.severity, e.code])).toEqual([["FATAL", "08P01"]]);
      // the client got no 'S' and no TLS: only the error
      expect(c.msgs.map((m) => m.type)).toEqual(["ErrorResponse"]);
      expect((await other`select 2 as two`)[0].two).toBe(2);
    } finally {
      await other.end();
    }
    await stillServing();
  });

  it("a whole session sent one byte per TCP segment gets the right answer", async () => {
    const c = new RawClient(gh.ports.postgres);
    await c.connected;
    const dribble = async (bytes: Buffer) => {
      for (const b of bytes) {
        // noDelay and a pause per byte: each byte leaves in a segment of its own
        await new Promise<void>((r) => c.socket.write(Buffer.from([b]), () => r()));
        await sleep(1);
      }
    };
    await dribble(build.startupMessage({ user: USER, database: "wire" }));
    await c.until(() => c.has("AuthenticationCleartextPassword"), "asked for a password");
    await dribble(build.password(token));
    await c.until(() => c.has("ReadyForQuery"), "logged in");
    expect(c.has("BackendKeyData")).toBe(true);
    c.msgs.splice(0);
    await dribble(build.query("select 6 * 7 as answer, 'byte' || 'wise' as how"));
    await c.until(() => c.has("ReadyForQuery"), "answered");
    const row = c.msgs.find((m) => m.type === "DataRow") as Extract<BackendMessage, { type: "DataRow" }>;
    expect(row.values.map((v) => v?.toString())).toEqual(["42", "bytewise"]);
    expect(c.errors()).toEqual([]);
    await dribble(build.terminate());
    await c.until(() => c.closed, "Terminate closes the connection");
  }, 30_000);

  it.each([
    ["a negative length", [header("Q", -1)]],
    ["a wrapped length (0xFFFFFFF0)", [header("Q", 0xfffffff0)]],
    ["a zero length", [header("Q", 0)]],
    ["a length shorter than itself", [header("Q", 3)]],
    ["2^31-1", [header("Q", 0x7fffffff)]],
    ["2^31-1 on another tag (Parse)", [header("P", 0x7fffffff)]],
  ])("after authentication %s is refused with 08P01 and the connection closed; a concurrent session keeps working", async (_what, parts) => {
    const other = client();
    try {
      expect((await other`select 1 as one`)[0].one).toBe(1);
      const c = new RawClient(gh.ports.postgres);
      await c.login(token);
      for (const p of parts) c.write(p);
      await c.until(() => c.closed, "the gateway closed the connection");
      expect(c.errors().map((e) => [e.severity, e.code])).toEqual([["FATAL", "08P01"]]);
      expect((await other`select 2 as two`)[0].two).toBe(2);
    } finally {
      await other.end();
    }
    await stillServing();
  });

  it("a good message across many segments, then one whose length is garbage across segments: the first is answered, the second refused (08P01)", async () => {
    const other = client();
    const c = new RawClient(gh.ports.postgres);
    try {
      await c.login(token);
      const good = build.query("select 'split' || 'ted' as s");
      const bad = Buffer.concat([header("Q", -7), Buffer.from("select 1\0")]);
      const stream = Buffer.concat([good, bad]);
      // segments of 1..5 bytes; the bad length word itself is cut in two
      const cuts = [1, 3, 5, 7, 10, 14, good.length + 2, good.length + 4, stream.length];
      let from = 0;
      let rounds = 0;
      for (const to of cuts) {
        c.write(stream.subarray(from, to));
        from = to;
        await sleep(15);
        // the concurrent session is served in between
        if (rounds++ % 3 === 0) expect((await other`select ${rounds}::int as n`)[0].n).toBe(rounds);
      }
      await c.until(() => c.closed, "the gateway closed the connection");
      const row = c.msgs.find((m) => m.type === "DataRow") as Extract<BackendMessage, { type: "DataRow" }> | undefined;
      expect(row?.values[0]?.toString()).toBe("splitted");
      expect(c.errors().map((e) => [e.severity, e.code])).toEqual([["FATAL", "08P01"]]);
      expect((await other`select 'after' as a`)[0].a).toBe("after");
    } finally {
      c.socket.destroy();
      await other.end();
    }
    await stillServing();
  });

  it("slow-loris startups (3 bytes, then nothing) do not delay another client's login, and are dropped at the startup timeout", async () => {
    const loris = Array.from({ length: 20 }, () => new RawClient(gh.ports.postgres));
    await Promise.all(loris.map((l) => l.connected));
    for (const l of loris) l.write(build.startupMessage({ user: USER, database: "wire" }).subarray(0, 3));
    await sleep(100);
    const r = await psql("select 'not blocked'");
    expect(r.stdout.trim(), r.out).toBe("not blocked");
    // psql was served while every loris socket still waited for its startup timeout (not after
    // they were dropped): no timing bound needed, which a loaded machine could break
    expect(loris.every((l) => !l.closed)).toBe(true);
    // GATEHOUSE_PG_STARTUP_TIMEOUT_MS=6000 for this file: the half-started sockets are then closed
    for (const l of loris) await l.until(() => l.closed, "the startup timeout closed the loris socket", 10_000);
    await stillServing();
  }, 20_000);
});
