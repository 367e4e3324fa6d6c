import type net from "node:net";
import type { Masker } from "@/lib/gateway/masking";
import type { Classification, StatementClass } from "./classify";
import { columnSourcesOfSelect, type OutputColumn } from "./column-sources";
import type { BatchOp } from "./extended";
import { buildFieldPlans, maskErrorFields, maskRow, type FieldPlan } from "./masking";
import { maskPool } from "./mask-pool";
import { MaskedRuns } from "./masked-runs";
import type { UpstreamMetadata } from "./metadata";
import type { ResultUnit } from "./unit";
import { isIsoDateStyle, unsafeParameter } from "./parameters";
import { clientFormat, conversionFor, fieldsOfPortal, toClientFormats } from "./portal-formats";
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

/** Bytes gathered before a socket write during one pump run. */
const OUT_CHUNK = 256 * 1024;

export type RelayOp =
  | (BatchOp & { unit: ResultUnit | null; plans?: FieldPlan[] | null; conversion?: (number | null)[] })
  /** `done`: statements of the Query completed so far, so the result arriving belongs to statements[done] */
  | { t: "query"; unit: ResultUnit; classification: Classification; done: number; fields: FieldDescription[] | null; plans?: FieldPlan[] | null; copyPlans?: boolean }
  | { t: "call"; unit: ResultUnit };

/** What a result's columns derive from; `opaque`: not knowable (see buildFieldPlans). */
interface Lineage {
  sources: OutputColumn[] | null;
  opaque: boolean;
}

export interface RelayContext {
  metadata: UpstreamMetadata | null;
  connection: string;
  /** the upstream's DateStyle at startup (binary conversion of dates reads ISO text only) */
  dateStyle?: string;
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
  private readonly orphans = new Set<ResultUnit>();
  private pumping = false;
  private waiting = false;
  private congested = false;
  /** DateStyle is ISO: date/timestamp text can be converted to binary */
  private isoDates: boolean;
  private out: Buffer[] = [];
  private outBytes = 0;
  /** masked runs of rows still being masked; every later write waits for them */
  private readonly runs: MaskedRuns;
  private dead = false;

  constructor(
    private readonly client: net.Socket,
    private readonly upstream: net.Socket,
    private readonly reader: FrameReader,
    private readonly ctx: RelayContext,
    private readonly onFatal: (err: Error) => void,
  ) {
    this.isoDates = isIsoDateStyle(ctx.dateStyle ?? "ISO");
    this.runs = new MaskedRuns({ write: (b) => this.write(b), flush: () => this.flushOut(), fatal: (e) => this.fatal(e) });
    upstream.on("data", (d: Buffer) => {
      try {
        this.reader.push(d);
      } catch (err) {
        return this.fatal(err as Error);
      }
      void this.pump();
    });
    client.on("drain", () => {
      this.congested = false;
      this.flow();
    });
  }

  /** Begin relaying (frames that arrived with the handshake are processed first). */
  start() {
    void this.pump();
  }

  enqueue(ops: RelayOp[]) {
    for (const op of ops) {
      this.queue.push(op);
      if (op.unit?.masker?.active) this.stickyMasker = op.unit.masker;
    }
    // A batch ended by Flush has no ReadyForQuery of its own: record it at the next one.
    if (!ops.some((o) => o.t === "sync" || o.t === "query" || o.t === "call")) for (const o of ops) if (o.unit) this.orphans.add(o.unit);
  }

  get pending(): number {
    return this.queue.length;
  }

  /** Resolves when every forwarded request got its ReadyForQuery (before injecting our own). */
  idle(): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  /**
   * Queues bytes for the client; they leave in one socket write per batch of upstream frames
   * (at the end of each pump run, before it awaits, or every OUT_CHUNK bytes). Frames forwarded
   * unchanged are views into the received chunk, so consecutive ones merge back into a single
   * view without copying; rebuilt (masked) rows are concatenated once. One write per row cost
   * more than the masking itself on large results.
   */
  write(buf: Buffer) {
    if (this.dead) return; // after a fatal error nothing more reaches the client (fail closed)
    const last = this.out.length ? this.out[this.out.length - 1] : null;
    if (last && last.buffer === buf.buffer && last.byteOffset + last.length === buf.byteOffset) {
      // Physically adjacent in memory: the merged view holds exactly last's bytes then buf's.
      this.out[this.out.length - 1] = Buffer.from(last.buffer, last.byteOffset, last.length + buf.length);
    } else this.out.push(buf);
    this.outBytes += buf.length;
    if (this.outBytes >= OUT_CHUNK) this.flushOut();
  }

  private flushOut() {
    if (this.outBytes === 0) return;
    const data = this.out.length === 1 ? this.out[0] : Buffer.concat(this.out, this.outBytes);
    this.out = [];
    this.outBytes = 0;
    if (!this.client.write(data)) {
      this.congested = true;
      this.flow();
    }
  }

  private flow() {
    if (this.congested || this.waiting) this.upstream.pause();
    else this.upstream.resume();
  }

  private async pump() {
    if (this.pumping) return;
    this.pumping = true;
    try {
      for (let f = this.reader.next(); f; f = this.reader.next()) {
        const p = f.tag === "D" ? this.dataRows(f) : this.afterRuns(f);
        if (p) {
          this.flushOut();
          this.waiting = true;
          this.flow();
          await p;
          this.waiting = false;
          this.flow();
        }
      }
    } catch (err) {
      this.flushOut(); // what was relayed before the failure goes out ahead of the FATAL
      this.fatal(err as Error);
    } finally {
      // Always before anything else can write to the client (the session's own replies).
      this.flushOut();
      this.pumping = false;
    }
  }

  private fatal(err: Error) {
    if (this.dead) return;
    this.dead = true;
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
          if (op.portal?.textUpstream) return void this.write(build.rowDescription(msg.fields.map((x, i) => ({ ...x, format: clientFormat(op.portal!.resultFormats, i) }))));
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
        if (op && (op.t === "parse" || op.t === "bind" || op.t === "close")) this.queue.shift();
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
          op.done++;
          op.fields = null;
          op.plans = null;
        }
        break;
      }
      case "E":
      case "N":
        return this.errorOrNotice(f, op);
      case "A":
        if (this.stickyMasker) {
          const m = parseBackendMessage(f);
          if (m.type === "NotificationResponse") return void this.write(build.notificationResponse(m.pid, m.channel, this.stickyMasker.maskText(m.payload)));
        }
        break;
      case "H":
        if (op?.unit?.masker?.active) return this.copyOut(f, op);
        break;
      case "d":
        if (op?.unit?.masker?.active) return void this.copyData(f, op);
        break;
      case "V":
        if (op?.unit?.masker?.active) return void this.write(build.functionCallResponse(null)); // an unknown function's result cannot be masked: withheld
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
    this.write(f.raw);
  }

  /**
   * A DataRow and the rows received with it. Once a masked result's plans are made and its sample
   * taken, a run of many rows is masked on two cores: the first half by the masking worker, the
   * second here meanwhile (masked-runs.ts). The frame after the run waits for the runs in flight.
   */
  private dataRows(first: Frame): Promise<void> | void {
    const op = this.queue[0];
    // Unmasked rows (the common case) take the first test and go straight on.
    const pool = op?.unit?.masker?.active ? maskPool() : null;
    if (!pool?.available || !op?.unit?.masker || !("plans" in op && op.plans?.every((p) => p.refs)) || op.unit.wantsSample() || (op.t === "execute" && op.portal?.textUpstream)) {
      return this.runs.busy ? this.runs.after(() => this.dataRow(first, op)) : this.dataRow(first, op);
    }
    const frames = [first];
    let next = this.reader.next();
    for (; next?.tag === "D"; next = this.reader.next()) frames.push(next);
    const done = this.runs.mask(frames, op.plans, op.unit, op.unit.masker, pool);
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
      return void this.write(f.raw);
    }
    if (masker && !("plans" in op && op.plans)) return this.planFor(op, masker).then(() => this.maskAndSend(f, op, masker));
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
      sent = toClientFormats((op.conversion ??= conversionFor(op.portal, this.isoDates)), sent, values);
      return void this.write(build.dataRow(sent));
    }
    this.write(out ? build.dataRow(sent) : f.raw);
  }

  private formatsOf(op: RelayOp | undefined): number[] {
    const fields = op?.t === "query" ? op.fields : op?.t === "execute" ? fieldsOfPortal(op.portal) : null;
    return fields?.map((x) => x.format) ?? [];
  }

  private async planFor(op: RelayOp, masker: Masker) {
    let fields: FieldDescription[] | null = null;
    let lineage: Lineage = { sources: null, opaque: false };
    if (op.t === "query") {
      fields = op.fields;
      lineage = this.queryLineage(op);
    } else if (op.t === "execute" && op.portal) {
      fields = fieldsOfPortal(op.portal);
      const stmt = op.portal.statement;
      const only = stmt?.classification.statements.length === 1 ? stmt.classification.statements[0] : null;
      const text = only && this.ctx.resultText ? this.ctx.resultText(only) : stmt?.text;
      // Parsed `EXECUTE p` / `FETCH c` resolve through names that can be redefined: never cached.
      if (stmt && text === null) lineage = { sources: null, opaque: true };
      else if (stmt && text !== stmt.text) lineage.sources = columnSourcesOfSelect(text!);
      else if (stmt) lineage.sources = stmt.sources === undefined ? (stmt.sources = columnSourcesOfSelect(stmt.text)) : stmt.sources;
      if (op.unit && fields) op.unit.columns = fields.map((x) => x.name);
    }
    // No description at all (a portal we never saw described): every value is withheld.
    const plans = fields ? await buildFieldPlans(fields, { masker, metadata: this.ctx.metadata, ...lineage, connection: this.ctx.connection }) : [];
    (op as { plans?: FieldPlan[] | null }).plans = plans;
  }

  private errorOrNotice(f: Frame, op: RelayOp | undefined) {
    const msg = parseBackendMessage(f);
    if (msg.type !== "ErrorResponse" && msg.type !== "NoticeResponse") return void this.write(f.raw);
    const masker = op?.unit?.masker?.active ? op.unit.masker : this.stickyMasker;
    if (msg.type === "ErrorResponse") {
      if (op?.unit) op.unit.error = { code: msg.fields.code, message: masker ? masker.maskText(msg.fields.message) : msg.fields.message };
      // After an error the server skips to Sync: drop the responses we will not get.
      if (op && op.t !== "query" && op.t !== "call") while (this.queue.length && this.queue[0].t !== "sync") this.queue.shift();
    }
    if (!masker) return void this.write(f.raw);
    const fields = maskErrorFields(msg.fields, masker);
    this.write(msg.type === "ErrorResponse" ? build.errorResponse(fields) : build.noticeResponse(fields));
  }

  private async copyOut(f: Frame, op: RelayOp) {
    if (op.t === "query") {
      const msg = parseBackendMessage(f);
      const count = msg.type === "CopyOutResponse" ? msg.columnFormats.length : 0;
      const fields = Array.from({ length: count }, (_, i): FieldDescription => ({ name: `column${i + 1}`, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format: msg.type === "CopyOutResponse" ? msg.format : 0 }));
      op.fields = fields;
      op.plans = await buildFieldPlans(fields, { masker: op.unit.masker!, metadata: this.ctx.metadata, ...this.queryLineage(op), connection: this.ctx.connection });
    }
    this.write(f.raw);
  }

  /** COPY TO STDOUT text rows: tab-separated fields, masked per column, detectors as backstop. */
  private copyData(f: Frame, op: RelayOp) {
    const masker = op.unit!.masker!;
    const plans = ("plans" in op && op.plans) || [];
    if (plans.some((p) => p.binary)) return; // binary COPY under a masker: withheld (see README)
    const line = f.body.toString("utf8");
    const nl = line.endsWith("\n") ? "\n" : "";
    const cells = (nl ? line.slice(0, -1) : line).split("\t");
    const masked = cells.map((c, i) => {
      if (c === "\\N") return c;
      let v: string | null = c;
      for (const p of plans[i]?.plans ?? []) v = v === null ? null : masker.maskValue(v, p);
      v = v === null ? "\\N" : masker.maskValue(v);
      return v ?? "\\N";
    });
    op.unit!.rows++;
    this.write(build.copyData(Buffer.from(masked.join("\t") + nl, "utf8")));
  }

  /**
   * Sources for the result (rows or COPY OUT) arriving now in a simple Query: the statement that
   * produces it is the one after those already completed. Not "the n-th statement with output
   * columns": SHOW, EXPLAIN and FETCH return rows without a derivation, PREPARE, DECLARE and
   * UPDATE without RETURNING have one without returning rows, and either would shift a later
   * SELECT's lineage onto the wrong result.
   */
  private queryLineage(op: Extract<RelayOp, { t: "query" }>): Lineage {
    const s = op.classification.statements[op.done];
    if (!s) return { sources: null, opaque: false };
    const text = this.ctx.resultText ? this.ctx.resultText(s) : s.text;
    return text === null ? { sources: null, opaque: true } : { sources: columnSourcesOfSelect(text), opaque: false };
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
    if (this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
  }
}

function rowValues(f: Frame): (Buffer | null)[] {
  const m = parseBackendMessage(f);
  return m.type === "DataRow" ? m.values : [];
}

