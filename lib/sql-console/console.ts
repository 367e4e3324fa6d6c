import { randomBytes } from "node:crypto";
import postgres from "postgres";
import { getSession } from "@/db/queries/sessions";
import type { Db } from "@/db/client";
import type { Principal } from "@/lib/gateway/core/types";
import { gatewayListening, issueHandoff } from "@/lib/gateway/protocols/postgres/console-handoff";
import { loggable } from "@/lib/util/loggable";
import type { Resumable } from "@/lib/ws/resumable";

/**
 * The server side of the console's SQL page: one PostgreSQL client, over one connection, of this
 * process's own PostgreSQL gateway, logged in for the person at the browser (console-handoff.ts).
 * Everything psql gets applies unchanged because it is the same path: classification, policy,
 * holds (the gateway's "held for approval" notice becomes a `held` message), masking, the
 * refusals under masking, recording (origin web-console), kills. Statements run in order on the
 * one connection, so a transaction or a SET carries from one to the next, as in psql.
 *
 * The browser gets at most MAX_ROWS rows and MAX_BYTES of values per statement; the rest is
 * counted. Values are shown as PostgreSQL's text output, exactly as the gateway masked them.
 *
 * The browser's WebSocket is only attached, as for the browser terminal: after a network loss the
 * connection (and its transaction, and a statement still running or held) waits GRACE_MS for the
 * same credential to come back with the resume token (resumable.ts). Every message is numbered
 * and kept until the browser acknowledges it (at most OUTBOX_BYTES of them); the browser resumes
 * after the last number it has and is sent what it missed.
 */
export const MAX_ROWS = 1000;
export const MAX_BYTES = 2 << 20;
/** Longest SQL text one message may carry (the socket's own limit is 1 MiB). */
const MAX_SQL_CHARS = 100_000;
const GRACE_MS = Number(process.env.GATEHOUSE_TERMINAL_GRACE_MS ?? 60_000);
const OUTBOX_BYTES = 8 << 20;
const HELD = /^(?:connection )?held for approval #(\d+): (\S+)/;

export type ConsoleMessage =
  | { type: "ready"; resumeToken: string }
  | { type: "session"; sessionId: string }
  | { type: "held"; id: number | null; approvalId: number; url: string }
  | { type: "notice"; id: number | null; message: string }
  | { type: "result"; id: number; sets: ResultSet[]; durationMs: number }
  | { type: "error"; id: number | null; code: string | null; message: string }
  | { type: "closed"; reason: string }
  /** on resume: messages the server no longer had (more than OUTBOX_BYTES came meanwhile) */
  | { type: "gap"; lost: number }
  /** on resume: what was missed has been sent; the console is attached again */
  | { type: "resumed" };

/** What goes over the socket: a message and its number (from 1; 0 for gap and resumed, which are not kept). */
export type WireMessage = ConsoleMessage & { seq: number };

export interface ConsoleSocket {
  send(json: string): void;
  close(code: number, reason: string): void;
}

export interface ResultSet {
  command: string;
  rowCount: number;
  columns: string[];
  rows: (string | null)[][];
  truncated: boolean;
}

type RawColumn = { name: string };
type RawSet = (Buffer | null)[][] & { command?: string; count?: number | null; columns?: RawColumn[] };

export class SqlConsole implements Resumable {
  readonly resumeToken = randomBytes(24).toString("base64url");
  private sql: postgres.Sql | null = null;
  private running: { id: number; query: { cancel(): unknown } } | null = null;
  private sessionId: string | null = null;
  /** the gateway's FATAL answer, which ends the connection */
  private fatal: string | null = null;
  private closed = false;
  /** closed and the browser told why, or given up on: nothing left to resume */
  private finished = false;
  private socket: ConsoleSocket | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private seq = 0;
  private outbox: { seq: number; json: string }[] = [];
  private outboxBytes = 0;

  private db: Db | null = null;

  constructor(private readonly onFinished: () => void = () => {}) {}

  get isFinished() {
    return this.finished;
  }

  /** Attach a (re)connected browser; when resuming, sends what followed message `after`. */
  attach(socket: ConsoleSocket, after: number | null) {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.socket = socket;
    if (after === null) return;
    const missed = this.outbox.filter((m) => m.seq > after);
    const first = missed[0]?.seq ?? this.seq + 1;
    if (first > after + 1) socket.send(JSON.stringify({ type: "gap", lost: first - after - 1, seq: 0 }));
    for (const m of missed) socket.send(m.json);
    if (this.closed) return this.finish(1000, "closed");
    socket.send(JSON.stringify({ type: "resumed", seq: 0 }));
  }

  /** The browser has every message up to `seq`: they need not be kept for a resume. */
  acknowledge(seq: number) {
    while (this.outbox.length && this.outbox[0].seq <= seq) this.outboxBytes -= this.outbox.shift()!.json.length;
  }

  /** The browser went away without closing the console: keep the connection for the grace period. */
  detach(socket: ConsoleSocket) {
    if (this.socket !== socket || this.finished) return;
    this.socket = null;
    this.graceTimer = setTimeout(() => void this.end(), GRACE_MS);
  }

  /**
   * Prepares the client. It logs in through the gateway with the first statement (which is when
   * the gateway decides `connect`, maybe holding it): `session` then names the recording.
   * (postgres.js cannot hold a connection open without a statement unless it may run its own
   * type query first, which would be recorded as the user's.)
   */
  open(db: Db, principal: Principal, connection: string, address: string): void {
    this.db = db;
    const at = gatewayListening();
    if (!at) return this.close("the PostgreSQL gateway does not run in this process");
    // One connection for the console's life: a reconnect would be a new session without the
    // old one's transaction, so after the first login no password is given out again.
    let loggedIn = false;
    const password = () => {
      if (loggedIn || this.closed) return "gatehouse-console:spent";
      loggedIn = true;
      return issueHandoff({ principal, address, connection, opened: (id) => this.opened(id) });
    };
    this.sql = postgres({
      host: at.host,
      port: at.port,
      database: connection,
      username: principal.email,
      password,
      ssl: at.cert ? { ca: at.cert, checkServerIdentity: () => undefined } : false,
      max: 1,
      prepare: false,
      fetch_types: false,
      idle_timeout: 0,
      max_lifetime: 0,
      // A held `connect` waits for its approver (the notice says so meanwhile); a request expires by then.
      connect_timeout: 3600,
      onnotice: (n) => this.notice(null, String(n.message)),
      connection: { application_name: "browser sql console" },
      onclose: () => void this.lost(),
    });
    this.emit({ type: "ready", resumeToken: this.resumeToken });
  }

  /** Runs one string (several statements allowed) and answers with its results or its error. */
  async run(id: number, text: unknown): Promise<void> {
    if (typeof text !== "string" || text.trim() === "") return this.emit({ type: "error", id, code: null, message: "nothing to run" });
    if (text.length > MAX_SQL_CHARS) return this.emit({ type: "error", id, code: null, message: `the SQL is longer than ${MAX_SQL_CHARS} characters` });
    // PostgreSQL reads a Query as a C string: it would run only what precedes a NUL.
    if (text.includes("\0")) return this.emit({ type: "error", id, code: null, message: "the SQL contains a NUL byte" });
    if (!this.sql || this.closed) return this.emit({ type: "error", id, code: null, message: "the console is not connected" });
    if (this.running) return this.emit({ type: "error", id, code: null, message: "a statement is still running; wait for it or cancel it" });
    const kept = new Map<RawSet, { rows: (string | null)[][]; seen: number; bytes: number }>();
    const query = this.sql.unsafe(text).raw();
    this.running = { id, query };
    const started = performance.now();
    try {
      const raw = await query.forEach((row, result) => {
        const set = result as unknown as RawSet;
        let k = kept.get(set);
        if (!k) kept.set(set, (k = { rows: [], seen: 0, bytes: 0 }));
        k.seen++;
        const values = row as unknown as (Buffer | null)[];
        const size = values.reduce((n, v) => n + (v?.length ?? 0), 0);
        // A prefix of the rows: once one does not fit, none after it is kept either.
        if (k.rows.length >= MAX_ROWS || k.bytes + size > MAX_BYTES) return void (k.bytes = MAX_BYTES + 1);
        k.bytes += size;
        k.rows.push(values.map((v) => (v === null ? null : v.toString("utf8"))));
      });
      const sets = (Array.isArray(raw) && raw.length > 0 && isResult(raw[0]) ? raw : [raw]) as RawSet[];
      const out = sets.filter(isResult).map((set) => {
        const k = kept.get(set) ?? { rows: [], seen: 0 };
        return { command: set.command ?? "", rowCount: set.count ?? k.seen, columns: (set.columns ?? []).map((c) => c.name), rows: k.rows, truncated: k.seen > k.rows.length };
      });
      this.emit({ type: "result", id, sets: out, durationMs: Math.round(performance.now() - started) });
    } catch (err) {
      const message = messageOf(err);
      if ((err as { severity?: string }).severity === "FATAL") this.fatal = message.message;
      this.emit({ type: "error", id, ...message });
    } finally {
      this.running = null;
    }
  }

  /** Cancels the running statement, or its wait for an approver (the gateway maps it, as for psql). */
  cancel() {
    if (this.running) void Promise.resolve(this.running.query.cancel()).catch(() => {});
  }

  /** The browser closed the console, or did not come back in time: the session ends as a psql session ends when psql quits. */
  async end(): Promise<void> {
    this.closed = true;
    this.finish(1000, "closed");
    this.cancel();
    await this.sql?.end({ timeout: 2 }).catch(() => {});
  }

  private emit(msg: ConsoleMessage) {
    const json = JSON.stringify({ ...msg, seq: ++this.seq });
    this.outbox.push({ seq: this.seq, json });
    this.outboxBytes += json.length;
    while (this.outbox.length > 1 && this.outboxBytes > OUTBOX_BYTES) this.outboxBytes -= this.outbox.shift()!.json.length;
    this.socket?.send(json);
  }

  private finish(code: number, reason: string) {
    if (this.finished) return;
    this.finished = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.socket?.close(code, reason);
    this.socket = null;
    this.outbox = [];
    this.onFinished();
  }

  private opened(sessionId: string) {
    this.sessionId = sessionId;
    this.emit({ type: "session", sessionId });
  }

  private notice(id: number | null, message: string) {
    const held = HELD.exec(message);
    const during = id ?? this.running?.id ?? null;
    if (held) this.emit({ type: "held", id: during, approvalId: Number(held[1]), url: held[2] });
    else this.emit({ type: "notice", id: during, message });
  }

  /** The connection closed under the console: ended by Gatehouse (a kill, a revocation) or lost. */
  private async lost() {
    if (this.closed) return;
    let reason = "the connection to the gateway was closed";
    // Why: the gateway stores it as it closes the connection (read back, briefly), or it refused
    // the login itself (FATAL, before any session was open).
    for (let tries = 0; tries < 20; tries++) {
      const row = this.sessionId && this.db ? await getSession(this.db, this.sessionId).catch((err) => void console.warn("[sql-console] reading the session's end failed:", loggable(err))) : null;
      if (row?.endReason || (!this.sessionId && this.fatal)) {
        reason = row?.endReason ?? this.fatal!;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    this.close(reason);
  }

  /** Ended under the console (a kill, a refused login, a lost gateway): the browser is told why, now or when it is back. */
  private close(reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.emit({ type: "closed", reason });
    if (this.socket) this.finish(1000, "closed");
    void this.sql?.end({ timeout: 1 }).catch(() => {});
  }
}

function isResult(x: unknown): x is RawSet {
  return Array.isArray(x) && "command" in x;
}

/** What the gateway (or PostgreSQL through it) answered; the gateway already masked it. */
function messageOf(err: unknown): { code: string | null; message: string } {
  const e = err as { name?: string; code?: string; message?: string };
  if (e?.name === "PostgresError") return { code: e.code ?? null, message: e.message ?? "error" };
  return { code: null, message: "the gateway could not be reached or closed the connection" };
}
