import net from "node:net";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres15, type Postgres15 } from "@/tests/support/postgres";
import { ScramClient } from "../scram";
import { BACKEND_TAGS, build, FrameReader, parseBackendMessage, type BackendMessage } from "../wire";

/**
 * The codec and the SCRAM client against a real PostgreSQL 15 (scram-sha-256 auth): what we
 * build, the server accepts; what the server sends, we parse — including binary columns,
 * COPY, notifications, errors and a cancel.
 */

class Conn {
  private reader = new FrameReader({ allowedTags: BACKEND_TAGS });
  private queue: BackendMessage[] = [];
  private waiter: (() => void) | null = null;
  private sslAnswer: Promise<string>;
  private resolveSsl!: (c: string) => void;
  private sslPending = true;

  constructor(readonly socket: net.Socket) {
    this.sslAnswer = new Promise((r) => (this.resolveSsl = r));
    socket.on("data", (chunk) => {
      this.reader.push(chunk);
      if (this.sslPending) {
        const b = this.reader.readByte();
        if (b === null) return;
        this.sslPending = false;
        this.resolveSsl(String.fromCharCode(b));
      }
      for (let f = this.reader.next(); f; f = this.reader.next()) this.queue.push(parseBackendMessage(f));
      this.waiter?.();
    });
  }

  static async open(port: number): Promise<Conn> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((r, j) => socket.once("connect", r).once("error", j));
    const c = new Conn(socket);
    socket.write(build.sslRequest());
    expect(await c.sslAnswer).toBe("N"); // the test server has no TLS
    return c;
  }

  send(...msgs: Buffer[]): void {
    this.socket.write(Buffer.concat(msgs));
  }

  async next(): Promise<BackendMessage> {
    while (this.queue.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error("timed out waiting for the server")), 10_000);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.queue.shift()!;
  }

  /** Messages up to and including the first of `type`. */
  async until(type: BackendMessage["type"]): Promise<BackendMessage[]> {
    const out: BackendMessage[] = [];
    for (;;) {
      const m = await this.next();
      out.push(m);
      if (m.type === type) return out;
    }
  }

  /** Startup at protocol 3.2 with a _pq_ option, then SCRAM; returns the BackendKeyData. */
  async login(password: string): Promise<BackendMessage[]> {
    this.send(build.startupMessage({ user: "postgres", database: "postgres", "_pq_.test_option": "1" }, { major: 3, minor: 2 }));
    const first = await this.next();
    expect(first).toEqual({ type: "NegotiateProtocolVersion", newestVersion: 196608, unrecognized: ["_pq_.test_option"] });
    const sasl = await this.next();
    if (sasl.type !== "AuthenticationSASL") throw new Error(`expected SASL, got ${sasl.type}`);
    const scram = ScramClient.choose(sasl.mechanisms, { password });
    this.send(build.saslInitialResponse(scram.mechanism, scram.clientFirst()));
    const cont = await this.next();
    if (cont.type !== "AuthenticationSASLContinue") return [cont];
    this.send(build.saslResponse(await scram.clientFinal(cont.data)));
    const final = await this.next();
    if (final.type !== "AuthenticationSASLFinal") return [final];
    scram.verifyServerFinal(final.data);
    return this.until("ReadyForQuery");
  }

  close(): void {
    this.socket.destroy();
  }
}

describe("wire codec against PostgreSQL 15", () => {
  let pg: Postgres15;
  let conn: Conn;
  let key: { pid: number; secretKey: Buffer };

  beforeAll(async () => {
    pg = await startPostgres15();
    conn = await Conn.open(pg.port);
    const startup = await conn.login("gatehouse-test");
    expect(startup[0]).toEqual({ type: "AuthenticationOk" });
    expect(startup).toContainEqual({ type: "ParameterStatus", name: "server_encoding", value: "UTF8" });
    const k = startup.find((m) => m.type === "BackendKeyData");
    if (k?.type !== "BackendKeyData") throw new Error("no BackendKeyData");
    key = k;
  });

  afterAll(async () => {
    conn?.close();
    await pg?.stop();
  });

  it("runs a multi-statement simple query", async () => {
    conn.send(build.query("select 1 as a, null::text as b; select 'é' as c"));
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs.map((m) => m.type)).toEqual(["RowDescription", "DataRow", "CommandComplete", "RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"]);
    expect(msgs[0]).toMatchObject({ fields: [{ name: "a", typeOid: 23, format: 0 }, { name: "b", typeOid: 25 }] });
    expect(msgs[1]).toEqual({ type: "DataRow", values: [Buffer.from("1"), null] });
    expect(msgs[4]).toEqual({ type: "DataRow", values: [Buffer.from("é")] });
  });

  it("keeps binary-format columns byte-exact through the extended protocol", async () => {
    const int4 = Buffer.alloc(4);
    int4.writeInt32BE(41);
    conn.send(
      build.parse({ name: "s1", text: "select $1::int4 + 1 as n, '\\x00ff80'::bytea as raw", paramTypes: [23] }),
      build.bind({ statement: "s1", paramFormats: [1], params: [int4], resultFormats: [1] }),
      build.describe("P"),
      build.execute(),
      build.sync(),
    );
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs.map((m) => m.type)).toEqual(["ParseComplete", "BindComplete", "RowDescription", "DataRow", "CommandComplete", "ReadyForQuery"]);
    const row = msgs[3];
    if (row.type !== "DataRow") throw new Error("no row");
    expect(row.values[0]!.readInt32BE()).toBe(42);
    expect(row.values[1]).toEqual(Buffer.from([0x00, 0xff, 0x80]));
  });

  it("streams COPY ... TO STDOUT", async () => {
    conn.send(build.query("copy (select g from generate_series(1, 3) g) to stdout"));
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs[0]).toEqual({ type: "CopyOutResponse", format: 0, columnFormats: [0] });
    expect(msgs.filter((m) => m.type === "CopyData")).toEqual(["1\n", "2\n", "3\n"].map((d) => ({ type: "CopyData", data: Buffer.from(d) })));
    expect(msgs.at(-2)).toEqual({ type: "CommandComplete", tag: "COPY 3" });
  });

  it("loads COPY ... FROM STDIN", async () => {
    conn.send(build.query("create temp table t(x int); copy t from stdin"));
    await conn.until("CopyInResponse");
    conn.send(build.copyData(Buffer.from("7\n8\n")), build.copyDone());
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs).toContainEqual({ type: "CommandComplete", tag: "COPY 2" });
  });

  it("parses ErrorResponse fields and NotificationResponse", async () => {
    conn.send(build.query("select * from no_such_table"));
    const err = (await conn.until("ReadyForQuery"))[0];
    expect(err).toMatchObject({ type: "ErrorResponse", fields: { severity: "ERROR", severityNonLocalized: "ERROR", code: "42P01", position: "15" } });
    conn.send(build.query("listen ch; notify ch, 'payload'"));
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs).toContainEqual({ type: "NotificationResponse", pid: key.pid, channel: "ch", payload: "payload" });
  });

  it("cancels a running query with CancelRequest", async () => {
    conn.send(build.query("select pg_sleep(20)"));
    // A cancel that comes before the backend runs the query is ignored: wait until it does.
    const watch = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      const until = Date.now() + 15_000;
      for (;;) {
        const [{ n }] = await watch<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where pid = ${key.pid} and state = 'active' and query = 'select pg_sleep(20)'`;
        if (n > 0) break;
        if (Date.now() > until) throw new Error("select pg_sleep(20) never became active");
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await watch.end({ timeout: 1 });
    }
    const c = net.connect(pg.port, "127.0.0.1");
    await new Promise((r) => c.once("connect", r));
    c.end(build.cancelRequest(key.pid, key.secretKey));
    const msgs = await conn.until("ReadyForQuery");
    expect(msgs.find((m) => m.type === "ErrorResponse")).toMatchObject({ fields: { code: "57014", message: "canceling statement due to user request" } });
  });

  it("is refused with the wrong password (server-side SCRAM check)", async () => {
    const bad = await Conn.open(pg.port);
    const msgs = await bad.login("wrong");
    expect(msgs[0]).toMatchObject({ type: "ErrorResponse", fields: { code: "28P01" } });
    bad.close();
  });
});
