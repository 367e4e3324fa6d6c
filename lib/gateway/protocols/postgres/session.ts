import { actionOf } from "@/lib/gateway/core/classify";
import { refusalReason, type Decision } from "@/lib/gateway/core/decision";
import type { ClassifiedRequest, RequestKind } from "@/lib/gateway/core/types";
import type { CancelKey, CancelRegistry } from "./cancel";
import { sendUpstreamCancel } from "./cancel";
import { ExtendedState } from "./extended";
import type { Established } from "./handshake";
import { LongRunning } from "./long-running";
import { catalogChanged, listenForCatalogChanges, mayChangeCatalog } from "./catalog-changes";
import { metadataFor } from "./metadata";
import { refusedStore } from "./stored-sources";
import { inferenceRefusalThroughViews } from "./inference";
import type { Masker, MaskingRule } from "@/lib/gateway/masking";
import { withUserCode } from "./user-code";
import { mayRoundFloats, roundsFloats } from "./parameters";
import { Relay } from "./relay";
import { ResultUnit, sampleLimitsOf, type SampleLimits } from "./unit";
import { build, encodeFrontend, parseFrontendMessage, ProtocolError, type BindMessage, type Frame, type FrontendMessage } from "./wire";
import { loggable } from "@/lib/util/loggable";
import { withoutSecrets } from "./classify/secrets";

/**
 * One client connection after authentication: the frontend → upstream state machine. Client
 * messages are handled strictly in order; each unit of work (a simple Query, an extended
 * batch up to Sync/Flush, a FunctionCall) is classified and decided BEFORE any of its bytes
 * reach the upstream. A denied unit is answered by the gateway itself (42501 + ReadyForQuery,
 * or error-until-Sync for extended batches) and the session stays usable.
 */

/** A batch this large is decided and forwarded without waiting for its Sync (bounded memory). */
const MAX_BATCH_MESSAGES = 1000;
const MAX_BATCH_BYTES = 16 * 1024 * 1024;
/** why a hold is given up when the client sends a CancelRequest (stored as the approval's reason) */
const CANCELLED_BY_CLIENT = "the client cancelled the statement";
/** A SET that would make the server read bytes differently from the classifier (README "Traps", 2). */
const refusedSetting = (problem: string) => `gatehouse: ${problem} is not supported through the gateway (the gateway reads SQL as UTF8 with standard_conforming_strings on)`;

export class PgSession {
  readonly key: CancelKey;
  private readonly relay: Relay;
  private readonly state = new ExtendedState();
  private readonly long: LongRunning;
  private readonly limits: SampleLimits;
  private batch: { msg: FrontendMessage; raw: Buffer }[] = [];
  private batchBytes = 0;
  private skippingToSync = false;
  /** statements of the current pipeline already ran upstream, in its open implicit transaction */
  private ranSinceSync = false;
  private busy = false;
  /** a serial upstream's lookups read ahead (metadata.ts warm); null once done, or when not serial */
  private warmed: Promise<void> | null;
  /** aborts a decision waiting for approval (client cancel, close); replaced once used */
  private holdAbort = new AbortController();
  private deciding = false;
  /**
   * A CancelRequest arrived since the gateway began deciding the statement in hand: it is not run
   * (57014, as PostgreSQL cancels what runs). Without this, a cancel while the statement was still
   * being classified or decided found nothing running upstream, and the statement then ran anyway.
   */
  private cancelAsked = false;
  private closed = false;
  /** a statement that may change the catalog ran since the session was last outside a transaction (catalog-changes.ts) */
  private changedCatalog = false;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(
    private readonly est: Established,
    private readonly cancels: CancelRegistry,
  ) {
    this.done = new Promise((r) => (this.resolveDone = r));
    this.key = cancels.issue({ cancel: () => this.cancel() });
    this.limits = sampleLimitsOf(est.target.options);
    const { client, upstream, session } = est;
    this.long = new LongRunning(session, {
      copyFail: (message) => {
        if (!upstream.socket.writable) return;
        this.toUpstream(build.copyFail(message));
        this.relay.copyEnded();
      },
      notice: (message) => void client.write(build.noticeResponse({ severity: "WARNING", code: "01000", message })),
    });
    const floatDigits = Object.entries(est.forwarded).find(([k]) => k.toLowerCase() === "extra_float_digits")?.[1];
    this.relay = new Relay(client, upstream.socket, upstream.reader, {
      metadata: metadataFor(est.target),
      connection: est.target.ref.name,
      dateStyle: upstream.parameters.DateStyle,
      upstreamPid: upstream.backendKey?.pid,
      clientPid: this.key.pid,
      resultText: (s) => this.state.resultText(s),
      withheldChannels: this.long.blocked,
      onUnitDone: (unit) => {
        if (this.changedCatalog) {
          catalogChanged(est.target);
          // Others see the change at COMMIT: until the transaction ends, every statement forgets again.
          if (this.relay.txStatus === "I") this.changedCatalog = false;
        }
        unit.record(session);
        unit.onDone?.();
      },
    }, (err) => this.fail(err));
    if (floatDigits !== undefined && roundsFloats(floatDigits)) this.relay.floatsRounded = true;
    listenForCatalogChanges();
    metadataFor(est.target).mayHaveUserCode(); // read now, while the session is idle
    this.warmed = metadataFor(est.target).warm(); // a serial upstream's lookups, before the client can open a transaction
    session.onTerminate((reason) => this.close(build.errorResponse({ severity: "FATAL", code: "57P01", message: `terminating connection: ${reason}` }), "killed", reason));
  }

  get id() {
    return this.est.session.id;
  }

  /** Finish the client's login (ParameterStatus, our BackendKeyData, ReadyForQuery) and start relaying. */
  start(): Promise<void> {
    const { client, upstream } = this.est;
    client.cork();
    client.write(build.authenticationOk());
    for (const f of upstream.startupFrames) client.write(f);
    client.write(build.backendKeyData(this.key.pid, this.key.secretKey));
    client.write(build.readyForQuery("I"));
    client.uncork();
    client.on("data", (d: Buffer) => {
      try {
        this.est.clientReader.push(d);
      } catch (err) {
        return this.fail(err as Error);
      }
      void this.pump();
    });
    upstream.socket.on("drain", () => client.resume());
    client.on("close", () => this.close(null, "ended"));
    upstream.socket.on("close", () => this.close(null, "ended", "the upstream closed the connection"));
    this.relay.start();
    void this.pump();
    return this.done;
  }

  /** Kill/revocation/shutdown from outside. */
  terminate(reason: string) {
    this.est.session.terminate(reason);
  }

  private cancel() {
    // What runs upstream is what a cancel stops (PostgreSQL then skips the rest of that pipeline itself).
    if (this.relay.pending > 0) {
      if (this.est.upstream.backendKey) sendUpstreamCancel(this.est.upstream.address, this.est.upstream.backendKey);
      return;
    }
    // Nothing of this session runs upstream: the cancel is for the statement the gateway has in
    // hand (being classified, decided or held), which then does not run. Not forwarded: a cancel
    // arriving late upstream would stop the client's next statement.
    this.cancelAsked = true;
    if (this.deciding) this.holdAbort.abort(CANCELLED_BY_CLIENT);
  }

  private async pump() {
    if (this.busy || this.closed) return;
    this.busy = true;
    try {
      if (this.warmed) await this.warmed.finally(() => (this.warmed = null));
      for (let f = this.est.clientReader.next(); f && !this.closed; f = this.est.clientReader.next()) {
        // Most frames (Bind, Execute, ...) only join the batch: no promise for them.
        const pending = this.handle(f);
        if (pending) await pending;
      }
    } catch (err) {
      this.fail(err as Error);
    } finally {
      this.busy = false;
    }
  }

  private handle(f: Frame): Promise<void> | void {
    const msg = parseFrontendMessage(f);
    const copyData = msg.type === "CopyData" || msg.type === "CopyDone" || msg.type === "CopyFail";
    if (!copyData) this.long.dropCopyData = false;
    switch (msg.type) {
      case "Query":
        // after an error in an unsynced batch PostgreSQL discards every message until Sync
        if (this.skippingToSync) return;
        if (this.batch.length) return this.flushBatch(false).then(() => this.query(msg.text, f.raw));
        return this.query(msg.text, f.raw);
      case "Parse":
      case "Bind":
      case "Describe":
      case "Execute":
      case "Close":
        if (this.skippingToSync) return;
        if (this.batch.length === 0) this.cancelAsked = false; // a new unit: an earlier cancel was not for it
        this.batch.push({ msg, raw: f.raw });
        this.batchBytes += f.raw.length;
        if (this.batch.length >= MAX_BATCH_MESSAGES || this.batchBytes >= MAX_BATCH_BYTES) return this.flushBatch(false);
        return;
      case "Sync":
        if (this.skippingToSync) {
          this.skippingToSync = false;
          return this.relay.idle().then(() => this.endRefusedUnit());
        }
        this.batch.push({ msg, raw: f.raw });
        return this.flushBatch(true);
      case "Flush":
        if (this.skippingToSync) return;
        this.batch.push({ msg, raw: f.raw });
        return this.flushBatch(false);
      case "CopyData":
      case "CopyDone":
      case "CopyFail":
        // Part of a COPY FROM STDIN the gateway already allowed; the server ignores them otherwise.
        // After the gateway aborted it (long-running.ts) the rest of its data goes nowhere.
        if (this.long.dropCopyData) return;
        // Sent behind a Parse/Bind/Execute of COPY FROM STDIN still held in the batch (no Sync or
        // Flush in between): the batch goes first, decided as on Flush. Forwarded ahead of it, the
        // data reached the upstream before its COPY, which then waited for data already ignored.
        if (this.batch.length) return this.flushBatch(false).then(() => void (this.closed || this.forwardCopy(msg.type, f.raw)));
        return this.forwardCopy(msg.type, f.raw);
      case "FunctionCall":
        if (this.skippingToSync) return;
        return this.functionCall(msg.functionOid, f.raw);
      case "Terminate":
        this.est.upstream.socket.end(build.terminate());
        return this.close(null, "ended");
      default:
        throw new ProtocolError(`unexpected ${msg.type} message after authentication`);
    }
  }

  private async query(text: string, raw: Buffer) {
    this.cancelAsked = false;
    let c = this.state.classify(text);
    // EXECUTE of a statement a pipelined Parse is still defining: decided by what the upstream answers.
    const executes = c.statements.flatMap((s) => s.executes);
    const unsettled = executes.length ? this.definitionsSettled(new Set(executes), new Set()) : null;
    if (unsettled) {
      await unsettled;
      c = this.state.classify(text);
    }
    const problem = c.statements.find((s) => s.settingProblem)?.settingProblem;
    if (problem) return this.reject("0A000", refusedSetting(problem), true);
    if (c.statements.some(mayRoundFloats)) this.relay.floatsRounded = true;
    const sources = this.state.withCursorSources(c);
    const request = await withUserCode(metadataFor(this.est.target), { action: actionOf(c.kind), kind: c.kind, tables: sources.tables, functions: sources.functions, text, inference: this.inferenceOf(text) }, this.preparedText);
    const decision = await this.decide(request);
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, true))) return;
    if (decision.type === "deny") return this.reject("42501", `gatehouse: ${refusalReason(decision.reason, request)}`, true);
    if (decision.masker?.active && (await this.refuseStore(text, request.kind, decision, true))) return;
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, true))) return;
    const prepares = this.state.applySqlNamespaceChanges(c, text);
    this.changedCatalog ||= mayChangeCatalog(request.kind);
    this.ranSinceSync = false; // a simple Query ends the implicit transaction like Sync
    const unit = new ResultUnit(decision.requestSeq, decision.masker?.active ? decision.masker : null, this.limits);
    unit.clientText = text;
    this.relay.enqueue([{ t: "query", unit, classification: c, done: 0, fields: null, prepares }]);
    this.toUpstream(raw);
    // After the statement went out: a revocation's CopyFail must reach the upstream behind it.
    unit.onDone = this.long.opened(c.statements, request, decision);
  }

  private async flushBatch(synced: boolean) {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    this.batchBytes = 0;
    const msgs = batch.map((b) => b.msg);
    // A name an earlier message still unanswered defines is decided by what the upstream made of it.
    const refs = this.state.referencedNames(msgs);
    const unsettled = this.definitionsSettled(refs.statements, refs.portals);
    if (unsettled) await unsettled;
    const plan = this.state.plan(msgs);
    const raw = Buffer.concat(batch.map((b) => b.raw));
    if (!plan.request) {
      // Only Parse/Describe/Close: nothing runs. Forwarded undecided, but what was parsed is recorded.
      if (plan.parsed.length) this.est.session.recorder.record("parse", { statements: plan.parsed.map((t) => withoutSecrets(t) ?? t) });
      plan.commit();
      this.relay.enqueue(plan.ops.map((op) => ({ ...op, unit: null })));
      if (synced) this.ranSinceSync = false;
      return this.toUpstream(raw);
    }
    if (plan.settingProblems.length) return this.reject("0A000", refusedSetting(plan.settingProblems[0]), synced);
    if (plan.executed.some(mayRoundFloats)) this.relay.floatsRounded = true;
    const request = await withUserCode(metadataFor(this.est.target), { ...plan.request, inference: this.inferenceOf(plan.request.text) }, this.preparedText);
    const decision = await this.decide(request);
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, synced))) return;
    if (decision.type === "deny") return this.reject("42501", `gatehouse: ${refusalReason(decision.reason, request)}`, synced);
    const masker = decision.masker?.active ? decision.masker : null;
    if (masker && (await this.refuseStore(request.text, request.kind, decision, synced))) return;
    if (masker && plan.runsCopy) {
      // COPY through Parse/Execute carries no RowDescription and possibly binary format: column
      // masking could not follow it, so under masking it is refused rather than half-masked.
      this.est.session.recordResult(decision.requestSeq, { error: { code: "0A000", message: "COPY via extended protocol refused under masking" } });
      return this.reject("0A000", "gatehouse: COPY through the extended protocol is not available on a masked connection (use a simple query)", synced);
    }
    if (masker && plan.runsBinaryPortal) {
      this.est.session.recordResult(decision.requestSeq, { error: { code: "0A000", message: "binary portal bound before masking applied" } });
      return this.reject("0A000", "gatehouse: this portal was bound with binary results before masking applied; bind it again", synced);
    }
    let out = raw;
    let ops = plan.ops;
    if (masker && plan.binaryBinds.length) {
      // Masking reads text: the upstream is asked for text and the relay converts the masked
      // values to the binary formats the client asked for (binary-results.ts). The column types
      // come from a Describe P the gateway adds behind each such Bind (answered to the gateway only).
      const parts = batch.map((b) => b.raw);
      ops = ops.slice();
      for (const { index, op, portal } of [...plan.binaryBinds].reverse()) {
        portal.textUpstream = true;
        parts[index] = Buffer.concat([encodeFrontend({ ...(batch[index].msg as BindMessage), resultFormats: [] }), build.describe("P", portal.name)]);
        ops.splice(op + 1, 0, { t: "describeP", portal, internal: true });
      }
      out = Buffer.concat(parts);
    }
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, synced))) return;
    plan.commit();
    this.changedCatalog ||= mayChangeCatalog(request.kind);
    const unit = new ResultUnit(decision.requestSeq, masker, this.limits);
    unit.clientText = [request.text, ...(request.params ?? [])].join("\n");
    this.relay.enqueue(ops.map((op) => ({ ...op, unit })));
    this.ranSinceSync = !synced;
    this.toUpstream(out);
    unit.onDone = this.long.opened(plan.executed, request, decision);
  }

  /**
   * Null when no forwarded Parse/Bind/Close/PREPARE that defines one of these names is still
   * unanswered (the common case: nothing to wait for, not even a tick); otherwise resolves once none
   * is. PostgreSQL sends its answers on Flush or Sync only, and what was forwarded may have neither
   * behind it (a batch sent ahead of a Query, COPY data or a FunctionCall): a Flush goes first,
   * which answers nothing itself.
   */
  private definitionsSettled(statements: ReadonlySet<string>, portals: ReadonlySet<string>): Promise<void> | null {
    const settled = this.relay.definitionsSettled(statements, portals);
    if (settled) this.toUpstream(build.flush());
    return settled;
  }

  private async functionCall(oid: number, raw: Buffer) {
    await this.flushBatch(false);
    this.cancelAsked = false;
    // The fast-path function interface runs any function by OID: the gateway cannot tell what it does.
    const decision = await this.decide({ action: actionOf("unknown"), kind: "unknown", tables: [], functions: [`oid:${oid}`], text: `FunctionCall ${oid}` });
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, true))) return;
    if (decision.type === "deny") return this.reject("42501", `gatehouse: ${decision.reason}`, true);
    // Its result is withheld under masking, but a function written in the database can also copy
    // masked values into a table (user-code.ts): only PostgreSQL's own functions run.
    if (decision.masker?.active) {
      const why = await metadataFor(this.est.target).isUserFunction(oid).then(
        (user) => (user ? "the function called is code written in the database, which can copy masked values where masking does not follow them" : null),
        (err: Error) => `the upstream catalog could not be read (${err.message})`,
      );
      if (why) {
        this.est.session.recordResult(decision.requestSeq, { error: { code: "0A000", message: `refused under masking: ${why}` } });
        return this.reject("0A000", `gatehouse: not available on a masked connection: ${why}`, true);
      }
    }
    if (this.cancelAsked && (await this.cancelledBeforeRun(decision, true))) return;
    this.changedCatalog = true; // a function called by OID may run anything
    const unit = new ResultUnit(decision.requestSeq, decision.masker?.active ? decision.masker : null, this.limits);
    unit.clientText = ""; // its arguments may be binary: nothing counts as written by the client
    this.relay.enqueue([{ t: "call", unit }]);
    this.toUpstream(raw);
  }

  private async decide(asked: ClassifiedRequest): Promise<Decision> {
    // A password written into the statement is recorded and shown redacted; it still runs as written.
    const shown = asked.shown ?? withoutSecrets(asked.text);
    const req = shown ? { ...asked, shown } : asked;
    // One controller for every decision until it is used: allocating one per statement showed up in profiles.
    if (this.holdAbort.signal.aborted && !this.closed) this.holdAbort = new AbortController();
    this.deciding = true;
    try {
      return await this.est.session.decide(req, { signal: this.holdAbort.signal, onHeld: this.onHeld });
    } finally {
      this.deciding = false;
    }
  }

  /**
   * A statement allowed under masking that runs code written in the database (user-code.ts), or
   * one that is not a read (`kind`) and would store a masked column where masking does not follow it
   * (stored-sources.ts), is refused, like COPY through Execute: true when it was.
   */
  private async refuseStore(text: string, kind: RequestKind, decision: Decision, synced: boolean): Promise<boolean> {
    if (decision.type === "deny" || !decision.masker) return false;
    const why = await refusedStore(text, decision.masker, metadataFor(this.est.target), this.est.target.ref.name, this.preparedText, kind);
    if (!why) return false;
    this.est.session.recordResult(decision.requestSeq, { error: { code: "0A000", message: `refused under masking: ${why}` } });
    await this.reject("0A000", `gatehouse: not available on a masked connection: ${why}`, synced);
    return true;
  }

  /** What `text` would reveal of columns masked by rules that block inference (inference.ts). */
  private inferenceOf(text: string) {
    return (rules: readonly MaskingRule[], masker: Masker) => inferenceRefusalThroughViews(text, masker, rules, metadataFor(this.est.target), this.est.target.ref.name, this.preparedText);
  }

  /** The text of a prepared statement an EXECUTE runs, or null when unknown. */
  private readonly preparedText = (name: string) => this.state.prepared.get(name)?.statements[0]?.text ?? null;

  private readonly onHeld = (h: { approvalId: number; url: string }) =>
    this.est.client.write(build.noticeResponse({ severity: "NOTICE", code: "00000", message: `held for approval #${h.approvalId}: ${h.url}` }));

  /**
   * The client cancelled the statement in hand before it was sent: an allowed one is not sent, and
   * a hold the cancel gave up was withdrawn (its approval closed as cancelled); both are answered
   * as PostgreSQL answers a cancelled statement, and recorded so. Any other denial stays as it
   * is (42501: nothing was about to run). True when it answered.
   */
  private async cancelledBeforeRun(decision: Decision, synced: boolean): Promise<boolean> {
    const id = decision.approvalId;
    const withdrawn = decision.type === "deny" && decision.withdrawn === true && this.holdAbort.signal.reason === CANCELLED_BY_CLIENT;
    if (decision.type === "deny" && !withdrawn) return false;
    const why = withdrawn ? `it was held for approval #${id}, which is withdrawn` : id !== undefined ? `approval #${id} was given; it was cancelled before it ran` : "";
    this.est.session.recordResult(decision.requestSeq, { error: { code: "57014", message: `cancelled by the client before it ran${why && `: ${why}`}` } });
    await this.reject("57014", `canceling statement due to user request${why && ` (${why})`}`, synced);
    return true;
  }

  /** The gateway's own refusal, after everything already forwarded has been answered. */
  private async reject(code: string, message: string, synced: boolean) {
    if (this.ranSinceSync) {
      // Earlier parts of this pipeline already ran upstream in an implicit transaction that the
      // next Sync would COMMIT. PostgreSQL would roll them back on an error; the only way to make
      // the upstream do that is to drop its connection, so the session ends with a clear reason.
      return this.close(build.errorResponse({ severity: "FATAL", code, message: `${message} (part of this pipeline was refused after earlier parts ran; the connection is closed so they roll back)` }), "failed", message);
    }
    await this.relay.idle();
    if (this.closed) return;
    this.est.client.write(build.errorResponse({ severity: "ERROR", code, message }));
    if (synced) this.endRefusedUnit();
    else this.skippingToSync = true;
  }

  /**
   * The ReadyForQuery that ends a refused unit at its Sync. The upstream got nothing of it; but
   * when an error in an earlier batch ended by Flush left it skipping until a Sync, it is given
   * that Sync and answers itself: left waiting, it skipped everything the client sent next.
   */
  private endRefusedUnit() {
    if (this.closed) return;
    if (!this.relay.awaitingSync) return void this.est.client.write(build.readyForQuery(this.relay.txStatus));
    this.relay.enqueue([{ t: "sync", unit: null }]);
    this.toUpstream(build.sync());
  }

  /** COPY data, or its end: the relay learns where the COPY ended among what was forwarded. */
  private forwardCopy(type: "CopyData" | "CopyDone" | "CopyFail", raw: Buffer) {
    this.toUpstream(raw);
    if (type !== "CopyData") this.relay.copyEnded();
  }

  private toUpstream(raw: Buffer) {
    // Backpressure: stop reading the client while the upstream cannot take more.
    if (!this.est.upstream.socket.write(raw)) this.est.client.pause();
  }

  private fail(err: Error) {
    if (err instanceof ProtocolError) return this.close(build.errorResponse(err.toErrorFields()), "failed", err.message);
    console.error(`[postgres] session ${this.id} failed:`, loggable(err));
    this.close(build.errorResponse({ severity: "FATAL", code: "XX000", message: "internal error in the gateway" }), "failed", "internal error");
  }

  /** Closes both sides once; `last` is a final message for the client (FATAL ErrorResponse). */
  close(last: Buffer | null, status: "ended" | "killed" | "failed", reason?: string) {
    if (this.closed) return;
    this.closed = true;
    this.holdAbort.abort();
    this.cancels.release(this.key.pid);
    const { client, upstream, session } = this.est;
    this.long.closing(reason ?? "the session ended");
    // A client that hangs up mid-statement does not stop it upstream (a write still commits):
    // the recording must not show an allowed statement with no trace of what became of it.
    for (const unit of this.relay.unfinished()) {
      unit.incomplete = `the session ended before the upstream's answer (${reason ?? "the client closed the connection"}); the statement may have run`;
      unit.record(session);
    }
    if (last && client.writable) client.end(last);
    else client.end();
    setTimeout(() => client.destroy(), 1000).unref();
    if (!upstream.socket.destroyed) upstream.socket.end(build.terminate());
    setTimeout(() => upstream.socket.destroy(), 1000).unref();
    void session.end(status === "killed" ? "killed" : status, reason).finally(() => this.resolveDone());
  }

  /** Resolves when the session is closed and its recording flushed. */
  closedPromise(): Promise<void> {
    return this.done;
  }
}
