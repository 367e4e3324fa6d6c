import net from "node:net";
import { ScramClient } from "@/lib/gateway/protocols/postgres/scram";
import { build, FrameReader, parseBackendMessage, type BackendMessage, type FrontendMessage } from "@/lib/gateway/protocols/postgres/wire";

/**
 * What the differential tests of the PostgreSQL gateway share (postgres-differential,
 * postgres-binary-differential, postgres-hold-differential, postgres-deny-differential): a raw
 * wire client that logs in to PostgreSQL itself or to the gateway and keeps every backend message,
 * the builders their sequences are written with, and how two answers are compared.
 */

const PG_PASSWORD = "gatehouse-test"; // tests/support/postgres.ts

/** A raw wire client: every backend message received after login, and whether the peer closed. */
export class WireClient {
  readonly msgs: BackendMessage[] = [];
  closed = false;
  /** the pid this session was told in BackendKeyData (its notifications carry it) */
  pid = 0;
  private readonly reader = new FrameReader();
  private wake: (() => void) | null = null;

  private constructor(
    private readonly socket: net.Socket,
    /** how long one side may take to answer (the machine is shared and slow at times) */
    private readonly answerMs: number,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (d) => {
      this.reader.push(d);
      for (let f = this.reader.next(); f; f = this.reader.next()) this.msgs.push(parseBackendMessage(f));
      this.wake?.();
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number, answerMs = 15_000): Promise<WireClient> {
    const socket = net.connect(port, "127.0.0.1");
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new WireClient(socket, answerMs);
  }

  /** Waits until `pred` holds or the peer closed; false after `ms`. */
  async until(pred: () => boolean, ms = this.answerMs): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!pred() && !this.closed) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((r) => {
        const t = setTimeout(r, Math.min(left, 200));
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return pred();
  }

  private async next<T extends BackendMessage["type"]>(type: T): Promise<Extract<BackendMessage, { type: T }>> {
    const found = () => this.msgs.find((m) => m.type === type || m.type === "ErrorResponse");
    if (!(await this.until(() => found() !== undefined))) throw new Error(`no ${type}; got ${JSON.stringify(this.msgs.map((m) => m.type))}`);
    const m = found()!;
    this.msgs.splice(0, this.msgs.indexOf(m) + 1);
    if (m.type !== type) throw new Error(`expected ${type}, got ${JSON.stringify(m)}`);
    return m as Extract<BackendMessage, { type: T }>;
  }

  /** Logs in to PostgreSQL itself as its superuser (SCRAM-SHA-256, as initdb set it up). */
  async loginDirect(): Promise<void> {
    this.socket.write(build.startupMessage({ user: "postgres", database: "postgres" }));
    const sasl = await this.next("AuthenticationSASL");
    const scram = ScramClient.choose(sasl.mechanisms, { password: PG_PASSWORD });
    this.socket.write(build.saslInitialResponse(scram.mechanism, scram.clientFirst()));
    const cont = await this.next("AuthenticationSASLContinue");
    this.socket.write(build.saslResponse(await scram.clientFinal(cont.data)));
    scram.verifyServerFinal((await this.next("AuthenticationSASLFinal")).data);
    await this.loggedIn();
  }

  /** Logs in to the gateway with the Gatehouse token as password (`startup`: user, database, any other parameter). */
  async loginGateway(token: string, startup: Record<string, string> & { user: string; database: string }): Promise<void> {
    this.socket.write(build.startupMessage(startup));
    await this.next("AuthenticationCleartextPassword");
    this.socket.write(build.password(token));
    await this.loggedIn();
  }

  /** Startup ParameterStatus and BackendKeyData differ by nature (pids, keys): consumed, not compared. */
  private async loggedIn() {
    this.pid = (await this.next("BackendKeyData")).pid;
    await this.next("ReadyForQuery");
    this.msgs.splice(0);
  }

  /** A simple Query for the test's own setup: its answers are waited for and dropped. */
  async run(sql: string): Promise<void> {
    this.socket.write(build.query(sql));
    await this.next("ReadyForQuery");
    this.msgs.splice(0);
  }

  write(b: Buffer) {
    this.socket.write(b);
  }

  /** Writes `b` and returns every message up to the `syncs`-th ReadyForQuery (or the close). */
  async exchange(b: Buffer, syncs: number): Promise<BackendMessage[]> {
    this.msgs.splice(0);
    this.socket.write(b);
    const done = () => this.msgs.filter((m) => m.type === "ReadyForQuery").length >= syncs;
    if (!(await this.until(done)) && !this.closed) throw new Error(`no answer; got ${JSON.stringify(this.msgs.map((m) => m.type))}`);
    return this.msgs.splice(0);
  }

  /** Terminate, and wait for the server to close: its LISTEN must be gone before the next session starts. */
  async end() {
    if (!this.closed) this.socket.end(build.terminate());
    await this.until(() => this.closed, 2_000);
    this.socket.destroy();
  }
}

// ---- what sequences are written with ----

export const text = (s: string) => Buffer.from(s, "utf8");
export const q = (t: string): FrontendMessage => ({ type: "Query", text: t });
export const parse = (name: string, t: string, paramTypes: number[] = []): FrontendMessage => ({ type: "Parse", name, text: t, paramTypes });
/** A Bind with text parameters (null: SQL NULL) and default formats unless given. */
export const bind = (portal: string, statement: string, params: (string | null)[] = [], resultFormats: number[] = []): FrontendMessage => ({
  type: "Bind",
  portal,
  statement,
  paramFormats: [],
  params: params.map((p) => (p === null ? null : text(p))),
  resultFormats,
});
export const execute = (portal: string, maxRows = 0): FrontendMessage => ({ type: "Execute", portal, maxRows });
export const describeMsg = (target: "S" | "P", name: string): FrontendMessage => ({ type: "Describe", target, name });
export const SYNC: FrontendMessage = { type: "Sync" };
export const FLUSH: FrontendMessage = { type: "Flush" };

/** For failure messages: a sequence as the code that would replay it. */
export function describeSequence(seq: readonly FrontendMessage[]): string {
  return seq.map((m) => JSON.stringify(m, (_k, v) => (v && v.type === "Buffer" && Array.isArray(v.data) ? `hex:${Buffer.from(v.data).toString("hex")}` : v))).join("\n");
}

// ---- comparison ----

export type Got = BackendMessage | { type: "TIMEOUT" | "CLOSED" };

/**
 * One backend message as compared. Everything is compared as sent, with these exceptions:
 *
 * - Startup (ParameterStatus, BackendKeyData) is consumed by login and never compared: the
 *   gateway hands out its own pid and cancel key by design (README, cancel).
 * - NotificationResponse: its pid is compared as "own" (the pid of the session's BackendKeyData)
 *   or "another": the two sessions are different backends, and through the gateway the client
 *   knows the gateway's pid, not the upstream backend's (cancel.ts).
 * - A connection PostgreSQL ended with FATAL may lose its last messages (lostToReset).
 *
 * ErrorResponse and NoticeResponse are compared whole, down to the source file, line and
 * routine: both sides talk to the same server, and the gateway relays unmasked errors unchanged.
 */
export function comparable(m: Got, ownPid: number): string {
  switch (m.type) {
    case "TIMEOUT":
    case "CLOSED":
      return m.type;
    case "NotificationResponse":
      return `${m.type} ${m.pid === ownPid ? "(own pid)" : "(another pid)"} ${m.channel} ${m.payload}`;
    case "ErrorResponse":
    case "NoticeResponse":
      return `${m.type} ${JSON.stringify(m.fields)}`;
    case "DataRow":
      return `DataRow ${JSON.stringify(m.values.map((v) => (v === null ? null : v.toString("hex"))))}`;
    default:
      return `${m.type} ${JSON.stringify(m, (k, v) => (k === "type" ? undefined : v && v.type === "Buffer" && Array.isArray(v.data) ? Buffer.from(v.data).toString("hex") : v))}`;
  }
}

/**
 * PostgreSQL ends a connection on a FATAL error (e.g. "protocol synchronization was lost": an
 * Execute sent during COPY FROM STDIN) with the client's later messages still unread, so its
 * kernel answers them with a TCP RST, and a peer that has not yet read PostgreSQL's last messages
 * when the RST arrives loses them. Any client can lose them this way; the gateway, one more hop
 * that reads a little later, loses them more often (seen as a bare CLOSED where PostgreSQL sent
 * its ERROR and FATAL). So when the direct answer ends in FATAL and CLOSED, the gateway's may
 * stop early: what it got must be a prefix of PostgreSQL's answer, followed by CLOSED too.
 */
export function lostToReset(direct: readonly string[], gateway: readonly string[]): boolean {
  const endsFatal = direct.at(-1) === "CLOSED" && direct.at(-2)?.startsWith('ErrorResponse {"severity":"FATAL"');
  return Boolean(endsFatal) && gateway.at(-1) === "CLOSED" && gateway.length < direct.length && gateway.slice(0, -1).every((m, i) => m === direct[i]);
}
