import type net from "node:net";
import { REDACTED, type Masker } from "@/lib/gateway/masking";
import type { Classification, StatementClass } from "./classify";
import type { BatchOp, SqlPrepare } from "./extended";
import { maskRow, type FieldPlan } from "./masking";
import { maskServerFields } from "./server-messages";
import { maskPool } from "./mask-pool";
import { MaskedRuns } from "./masked-runs";
import type { UpstreamMetadata } from "./metadata";
import type { ResultUnit } from "./unit";
import { isIsoDateStyle, unsafeParameter } from "./parameters";
import { clientFormat, conversionFor, fieldsOfPortal, toClientFormats } from "./portal-formats";
import type { CopyFormat } from "./copy-rows";
import { ClientOutput } from "./relay-output";
import { maskCopyRow, planCopyOut, planResult } from "./relay-results";
import { build, parseBackendMessage, ProtocolError, type FieldDescription, type Frame, type FrameReader, type TransactionStatus } from "./wire";

/**
 * The response path, upstream → client, message by message (results are never buffered
 * whole). The relay keeps a FIFO of what each forwarded frontend message will produce, so it
 * knows which request a RowDescription, DataRow or ErrorResponse belongs to — also when
 * several Syncs are pipelined, and for named statements whose RowDescription the driver
 * cached (it came from an earlier Describe and is kept on the statement).
 *
 * Fast path: no masker → every frame is forwarded as the bytes received. With a masker,
 * DataRows are rebuilt, and notices, errors, NOTIFY payloads and COPY OUT rows are masked.
 */

export type RelayOp =
  | (BatchOp & { unit: ResultUnit | null; plans?: FieldPlan[] | null; conversion?: (number | null)[] })
  /** `done`: statements of the Query completed so far, so the result arriving belongs to statements[done] */
  | { t: "query"; unit: ResultUnit; classification: Classification; done: number; fields: FieldDescription[] | null; plans?: FieldPlan[] | null; copyPlans?: boolean; copyFormat?: CopyFormat | null; copyRows?: number; prepares?: SqlPrepare[] }
  | { t: "call"; unit: ResultUnit };

export interface RelayContext {
  metadata: UpstreamMetadata | null;
  connection: string;
  /** the upstream's DateStyle at startup (binary conversion of dates reads ISO text only) */
  dateStyle?: string;
  /** the upstream backend's own pid: a notification from it was sent by this session */
  upstreamPid?: number;
  /** the pid the client was given in BackendKeyData (the gateway's own, cancel.ts) */
  clientPid?: number;
  /** channels whose notifications are withheld (their LISTEN was revoked: long-running.ts) */
  withheldChannels?: ReadonlySet<string>;
  /** the text whose columns a statement returns (EXECUTE → its prepared statement, FETCH → its cursor's DECLARE); null: not knowable */
  resultText?(s: StatementClass): string | null;
  onUnitDone(unit: ResultUnit): void;
}

export class Relay {
  private readonly queue: RelayOp[] = [];
  txStatus: TransactionStatus = "I";
  /** once any request of the session was masked, async channels (NOTIFY, notices) stay masked */
  stickyMasker: Masker | null = null;
  private idleWaiters: (() => void)[] = [];
  /**
   * The upstream reported an error in an extended batch and skips what follows until a Sync that
   * was not forwarded yet (the batch ended with Flush): what is forwarded meanwhile gets no answer.
   */
  private skippingToSync = false;
  /** batches waiting until no unanswered Parse/Bind/Close defines a name they use (definitionsSettled) */
  private settleWaiters: { pending: (op: RelayOp) => boolean; resolve: () => void }[] = [];
  private readonly orphans = new Set<ResultUnit>();
  /**
   * PostgreSQL ignores a Sync (and Flush) that reaches it during COPY FROM STDIN: never answered,
   * it must not wait in the queue for a ReadyForQuery (libpq's PQexecParams of a COPY sends one
   * behind the Execute, then another behind CopyDone). What reaches it during the COPY is told by
   * the order of forwarding: each op's place in it (`placeOf`), and the places of the CopyDone /
   * CopyFail messages forwarded (`copyEnds`, the number of ops enqueued before each).
   */
  private enqueued = 0;
  private readonly placeOf = new WeakMap<RelayOp, number>();
  private readonly copyEnds: number[] = [];
  /** a COPY FROM STDIN runs upstream and nothing that ends it was forwarded yet: Syncs forwarded now are ignored */
  private copyOpen = false;
  private pumping = false;
  private waiting = false;
  /** DateStyle is ISO: date/timestamp text can be converted to binary */
  private isoDates: boolean;
  /** extra_float_digits may be <= 0 (set by the session: parameters.ts mayRoundFloats): float text is rounded, not convertible */
  floatsRounded = false;
  private readonly output: ClientOutput;
  /** masked runs of rows still being masked; every later write waits for them */
  private readonly runs: MaskedRuns;

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    private readonly reader: FrameReader,
    private readonly ctx: RelayContext,
    private readonly onFatal: (err: Error) => void,
  ) {
    this.isoDates = isIsoDateStyle(ctx.dateStyle ?? "ISO");
    this.output = new ClientOutput(client, () => this.flow());
    this.runs = new MaskedRuns({ write: (b) => this.output.write(b), flush: () => this.output.flush(), fatal: (e) => this.fatal(e) });
    upstream.on("data", (d: Buffer) => {
      try {
        this.reader.push(d);
      } catch (err) {
        return this.fatal(err as Error);
      }
      void this.pump();
    });
  }

  /** Begin relaying (frames that arrived with the handshake are processed first). */
  start() {
    void this.pump();
  }

  enqueue(ops: RelayOp[]) {
    for (const op of ops) {
      if (this.copyOpen) {
        // Reaches the upstream during its COPY FROM STDIN: a Sync is ignored there; anything else
        // ends the COPY with an error, and what follows is read normally again.
        if (op.t === "sync") {
          if (op.unit) this.orphans.add(op.unit);
          continue;
        }
        this.copyOpen = false;
      }
      if (this.skippingToSync) {
        // Skipped upstream, a Query or FunctionCall too (PostgreSQL reads nothing but Sync until
        // then): never answered, so it must not stay queued, nor count as a pending definition.
        if (op.t !== "sync") continue;
        this.skippingToSync = false;
      }
      this.placeOf.set(op, this.enqueued++);
      this.queue.push(op);
      if (op.unit?.masker?.active) this.stickyMasker = op.unit.masker;
    }
    // A batch ended by Flush has no ReadyForQuery of its own: record it at the next one.
    if (!ops.some((o) => o.t === "sync" || o.t === "query" || o.t === "call")) for (const o of ops) if (o.unit) this.orphans.add(o.unit);
  }

  /** The session forwarded a CopyDone or CopyFail (the client's, or its own on revocation). */
  copyEnded() {
    if (this.copyOpen) this.copyOpen = false;
    // Only the first end forwarded after an op can end its COPY: one mark per place, so a client
    // sending CopyDone over and over grows nothing (they are cleared once the queue is empty).
    else if (this.copyEnds.at(-1) !== this.enqueued) this.copyEnds.push(this.enqueued);
  }

  /**
   * CopyInResponse for `op`: the upstream reads COPY data until the first CopyDone or CopyFail
   * forwarded after `op` (or any other message: it ends the COPY with an error). The Syncs
   * forwarded in between are ignored upstream: dropped here, their requests recorded at the next
   * ReadyForQuery. When that end is not forwarded yet, so are the Syncs forwarded until it is.
   */
  private copyIn(op: RelayOp) {
    const start = this.placeOf.get(op) ?? -1;
    // a CopyDone/CopyFail forwarded before this COPY was ignored upstream (none was running)
    while (this.copyEnds.length && this.copyEnds[0] <= start) this.copyEnds.shift();
    const end = this.copyEnds.length ? this.copyEnds.shift()! : Infinity;
    let i = 1;
    for (; i < this.queue.length; i++) {
      const next = this.queue[i];
      if (next.t !== "sync" || (this.placeOf.get(next) ?? Infinity) >= end) break;
      if (next.unit) this.orphans.add(next.unit);
    }
    // still open: its end not forwarded, nor anything else after the Syncs
    this.copyOpen = end === Infinity && i === this.queue.length;
    if (i > 1) this.queue.splice(1, i - 1);
  }

  /** The upstream skips everything until a Sync after an error in a batch that ended with Flush. */
  get awaitingSync(): boolean {
    return this.skippingToSync;
  }

  get pending(): number {
    return this.queue.length;
  }

  /**
   * The requests forwarded upstream whose ReadyForQuery never came, for a session ending now: it
   * ran (or began to) upstream, so it is recorded even though its outcome is not known.
   */
  unfinished(): ResultUnit[] {
    const units = new Set(this.orphans);
    for (const op of this.queue) if (op.unit) units.add(op.unit);
    return [...units];
  }

  /**
   * Null when no forwarded Parse/Bind/Close still waiting for the upstream's answer defines one of
   * these statement or portal names; otherwise resolves once none does (each was confirmed and
   * applied, or refused or skipped by the upstream and never applied).
   */
  definitionsSettled(statements: ReadonlySet<string>, portals: ReadonlySet<string>): Promise<void> | null {
    if (statements.size === 0 && portals.size === 0) return null;
    const pending = (op: RelayOp) =>
      "defines" in op
        ? op.defines.target === "S" ? statements.has(op.defines.name) : portals.has(op.defines.name)
        : op.t === "query" && !!op.prepares?.some((p) => p.index >= op.done && statements.has(p.name));
    if (!this.queue.some(pending)) return null;
    return new Promise((resolve) => this.settleWaiters.push({ pending, resolve }));
  }

  private checkSettled() {
    this.settleWaiters = this.settleWaiters.filter((w) => {
      if (this.queue.some(w.pending)) return true;
      w.resolve();
      return false;
    });
  }

  /** Resolves when every forwarded request got its ReadyForQuery (before injecting our own). */
  idle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private flow() {
    if (this.output.congested || this.waiting) this.upstream.pause();
    else this.upstream.resume();
  }

  private async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        const p = f.tag === "D" ? this.dataRows(f) : this.afterRuns(f);
        if (p) {
          this.output.flush();
          this.waiting = true;
          this.flow();
          await p;
          this.waiting = false;
          this.flow();
        }
        if (this.settleWaiters.length && f.tag !== "D") this.checkSettled();
        // answered all (a ParseComplete after Flush, not only a ReadyForQuery, can be the last)
        if (this.idleWaiters.length && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      }
    } catch (err) {
      this.output.flush(); // what was relayed before the failure goes out ahead of the FATAL
      this.fatal(err as Error);
    } finally {
      // Always before anything else can write to the client (the session's own replies).
      this.output.flush();
      this.pumping = false;
    }
  }

  private fatal(err: Error) {
    if (this.output.closed) return;
    this.output.closed = true;
    this.onFatal(err);
  }

  /** A frame after masked rows still being masked: handled once they are written. */
  private afterRuns(f: Frame): Promise<void> | void {
    return this.runs.busy ? this.runs.after(() => this.handle(f)) : this.handle(f);
  }

  /** Handles one backend frame; returns a promise only when masking needs catalog lookups. */
  private handle(f: Frame): Promise<void> | void {
    const op = this.queue[0];
    switch (f.tag) {
      case "D":
        return this.dataRow(f, op);
      case "T": {
        const msg = parseBackendMessage(f);
        if (msg.type !== "RowDescription") break;
        if (op?.t === "describeS") {
          if (op.stmt) op.stmt.fields = msg.fields;
          this.queue.shift();
        } else if (op?.t === "describeP") {
          this.queue.shift();
          if (op.portal) op.portal.fields = msg.fields;
          if (op.internal) return;
          // The upstream describes the text it was asked for; the client must see its own formats.
          if (op.portal?.textUpstream) return void this.output.write(build.rowDescription(msg.fields.map((x, i) => ({ ...x, format: clientFormat(op.portal!.resultFormats, i) }))));
        } else if (op?.t === "query") {
          op.fields = msg.fields;
          op.plans = null;
          op.unit.columns = msg.fields.map((x) => x.name);
        }
        break;
      }
      case "n":
        if (op?.t === "describeS" || op?.t === "describeP") this.queue.shift();
        if (op?.t === "describeP" && op.internal) return;
        break;
      case "1":
      case "2":
      case "3":
        if (op && (op.t === "parse" || op.t === "bind" || op.t === "close")) {
          // Confirmed: only now does the statement or portal exist (or is closed) for the gateway too.
          op.defines.apply();
          this.queue.shift();
        }
        break;
      case "C":
      case "I":
      case "s": {
        const tag = f.tag === "C" ? (parseBackendMessage(f) as { tag: string }).tag : f.tag === "I" ? "EMPTY" : "SUSPENDED";
        if (op && op.unit && f.tag !== "s") op.unit.tags.push(tag);
        if (op?.t === "execute") this.queue.shift();
        else if (op?.t === "query" && f.tag !== "s") {
          // Every statement of a simple Query ends with exactly one CommandComplete (or the Query
          // with EmptyQueryResponse): counting them says which statement the next result is from.
          // A PREPARE the upstream made: only now does the gateway decide its name by it.
          if (tag === "PREPARE") op.prepares?.find((p) => p.index === op.done)?.apply();
          op.done++;
          op.fields = null;
          op.plans = null;
        }
        break;
      }
      case "E":
      case "N":
        return this.errorOrNotice(f, op);
      case "A": {
        const m = parseBackendMessage(f);
        if (m.type !== "NotificationResponse") break;
        if (this.ctx.withheldChannels?.has(m.channel)) return;
        const own = this.ctx.upstreamPid !== undefined && m.pid === this.ctx.upstreamPid;
        const pid = notifierPid(m.pid, this.ctx.upstreamPid, this.ctx.clientPid);
        if (this.stickyMasker) {
          // Another session's payload can be anything it read (a trigger's `pg_notify(ch,
          // row_to_json(NEW)::text)` carries whole rows) and has no lineage to mask by: withheld,
          // the channel still wakes the listener. This session's own payloads passed the store
          // check (constants and parameters only): detectors suffice.
          return void this.output.write(build.notificationResponse(pid, m.channel, own || m.payload === "" ? this.stickyMasker.maskText(m.payload) : REDACTED));
        }
        if (pid !== m.pid) return void this.output.write(build.notificationResponse(pid, m.channel, m.payload));
        break;
      }
      case "H":
        if (op?.unit?.masker?.active) return this.copyOut(f, op);
        break;
      case "d":
        if (op?.unit?.masker?.active) return void this.copyData(f, op);
        break;
      case "V":
        if (op?.unit?.masker?.active) return void this.output.write(build.functionCallResponse(null)); // an unknown function's result cannot be masked: withheld
        break;
      case "G":
        if (op) this.copyIn(op);
        break;
      case "Z":
        this.readyForQuery(f);
        break;
      case "S": {
        const m = parseBackendMessage(f);
        if (m.type === "ParameterStatus" && m.name.toLowerCase() === "datestyle") this.isoDates = isIsoDateStyle(m.value);
        const problem = m.type === "ParameterStatus" ? unsafeParameter(m.name, m.value) : null;
        // The classifier reads UTF-8 with standard strings; a server reading bytes differently
        // could run text the gateway never classified.
        if (problem) throw new ProtocolError(problem, "0A000");
        break;
      }
    }
    this.output.write(f.raw);
  }

  /**
   * A DataRow and the rows received with it. Once a masked result's plans are made and its sample
   * taken, the rows received together are masked as one run into one buffer (row-writer.ts), and a
   * run of many on two cores: the first half by the masking worker, the second here meanwhile
   * (masked-runs.ts). The frame after the run waits for the runs in flight.
   */
  private dataRows(first: Frame): Promise<void> | void {
    const op = this.queue[0];
    // Unmasked rows (the common case) take the first test and go straight on.
    const unit = op?.unit;
    const masker = unit?.masker?.active ? unit.masker : null;
    if (!unit || !masker || !("plans" in op && op.plans) || unit.wantsSample() || (op.t === "execute" && op.portal?.textUpstream)) {
      return this.runs.busy ? this.runs.after(() => this.dataRow(first, op)) : this.dataRow(first, op);
    }
    const frames = [first];
    let next = this.reader.next();
    for (; next?.tag === "D"; next = this.reader.next()) frames.push(next);
    const done = this.runs.mask(frames, op.plans, unit, masker, maskPool());
    if (!next) return done;
    const after = next;
    return done ? done.then(() => this.afterRuns(after)) : this.afterRuns(after);
  }

  private dataRow(f: Frame, op: RelayOp | undefined): Promise<void> | void {
    const unit = op?.unit ?? null;
    if (unit) unit.rows++;
    const masker = unit?.masker?.active ? unit.masker : null;
    const convert = op?.t === "execute" && op.portal?.textUpstream === true;
    if ((!masker && !convert) || !op) {
      if (unit?.wantsSample()) unit.addSample(rowValues(f), this.formatsOf(op));
      return void this.output.write(f.raw);
    }
    if (masker && !("plans" in op && op.plans)) return planResult(op, masker, this.ctx).then(() => this.maskAndSend(f, op, masker));
    this.maskAndSend(f, op, masker);
  }

  private maskAndSend(f: Frame, op: RelayOp, masker: Masker | null) {
    const values = rowValues(f);
    const plans = ("plans" in op && op.plans) || [];
    const out = masker ? maskRow(values, plans, masker) : null;
    let sent = out ? out.values : values;
    if (out) op.unit!.maskedCells += out.masked;
    if (op.unit?.wantsSample()) op.unit.addSample(sent, plans.map((p) => (p.binary ? 1 : 0)));
    if (op.t === "execute" && op.portal?.textUpstream) {
      sent = toClientFormats((op.conversion ??= conversionFor(op.portal, this.isoDates, !this.floatsRounded)), sent, values);
      return void this.output.write(build.dataRow(sent));
    }
    this.output.write(out ? build.dataRow(sent) : f.raw);
  }

  private formatsOf(op: RelayOp | undefined): number[] {
    const fields = op?.t === "query" ? op.fields : op?.t === "execute" ? fieldsOfPortal(op.portal) : null;
    return fields?.map((x) => x.format) ?? [];
  }

  private errorOrNotice(f: Frame, op: RelayOp | undefined) {
    const msg = parseBackendMessage(f);
    if (msg.type !== "ErrorResponse" && msg.type !== "NoticeResponse") return void this.output.write(f.raw);
    const own = op?.unit?.masker?.active ? op.unit.masker : null;
    const masker = own ?? this.stickyMasker;
    // A request masked by its own verdict: only what its client sent may be quoted back.
    const fields = masker ? maskServerFields(msg.fields, masker, own ? op!.unit!.clientText : null) : msg.fields;
    if (msg.type === "ErrorResponse") {
      // A COPY FROM STDIN that failed upstream reads no more data: a Sync counts again.
      this.copyOpen = false;
      if (op?.unit) op.unit.error = { code: fields.code, message: fields.message };
      // After an error the server skips to Sync: drop the responses we will not get.
      if (op && op.t !== "query" && op.t !== "call") {
        while (this.queue.length && this.queue[0].t !== "sync") this.queue.shift();
        // nothing forwarded is answered any more: idle (pump), and a refusal then gives the
        // upstream the Sync it skips to (session.ts endRefusedUnit)
        this.skippingToSync = this.queue.length === 0;
      }
    }
    if (!masker) return void this.output.write(f.raw);
    this.output.write(msg.type === "ErrorResponse" ? build.errorResponse(fields) : build.noticeResponse(fields));
  }

  private async copyOut(f: Frame, op: RelayOp) {
    if (op.t === "query") await planCopyOut(f, op, this.ctx);
    this.output.write(f.raw);
  }

  private copyData(f: Frame, op: RelayOp) {
    // COPY OUT is planned for simple Queries only (through Execute it is refused under masking).
    const masked = op.t === "query" ? maskCopyRow(f.body, op, op.unit.masker!) : null;
    if (!masked) return;
    op.unit!.rows++;
    this.output.write(build.copyData(masked));
  }

  private readyForQuery(f: Frame) {
    this.txStatus = String.fromCharCode(f.body[0]) as TransactionStatus;
    while (this.queue.length) {
      const op = this.queue.shift()!;
      if (op.t === "sync" || op.t === "query" || op.t === "call") {
        if (op.unit) this.ctx.onUnitDone(op.unit);
        break;
      }
    }
    for (const u of this.orphans) this.ctx.onUnitDone(u);
    this.orphans.clear();
    if (this.queue.length === 0) {
      // every later op comes after every end forwarded so far: none of them can end its COPY
      this.copyEnds.length = 0;
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }
}

function rowValues(f: Frame): (Buffer | null)[] {
  const m = parseBackendMessage(f);
  return m.type === "DataRow" ? m.values : [];
}

/**
 * The pid a client is shown for a notification's sender. A client tells its own notifications by
 * the pid of its BackendKeyData (what the LISTEN docs advise, libpq's PQbackendPID): the
 * gateway's, not the upstream backend's. The two pids trade places, so another backend that
 * happens to have the gateway's pid is shown as the upstream's (a pid the client was never given)
 * and is never taken for the client's own.
 */
export function notifierPid(sender: number, upstreamPid: number | undefined, clientPid: number | undefined): number {
  if (upstreamPid === undefined || clientPid === undefined) return sender;
  return sender === upstreamPid ? clientPid : sender === clientPid ? upstreamPid : sender;
}
