import type { Db } from "@/db/client";
import { insertSession, liveParentSession } from "@/db/queries/sessions";
import { getBus, Topics } from "@/lib/events/bus";
import { holdForApproval } from "@/lib/gateway/approvals/hold";
import type { Masker } from "@/lib/gateway/masking";
import { getPolicyRuntime, maskingOf } from "@/lib/gateway/policy";
import { approvalSatisfies } from "@/lib/gateway/policy/verdict";
import { sealForPolicy } from "@/lib/gateway/policy/context";
import { recordingSettled, SessionRecorder } from "@/lib/gateway/recorder/recorder";
import { activeGrantsOf } from "@/db/queries/approvals";
import { grantLineage } from "@/lib/identity/grant-lineage";
import { getConnection } from "@/db/queries/connections";
import { getUserForSession } from "@/db/queries/users";
import { anyTokenRevoked } from "@/db/queries/tokens";
import { sshKeyExists } from "@/db/queries/ssh-keys";
import { groupNamesOf } from "@/lib/identity/tokens";
import { maskedRefusal, maskerFor, maskerOf, requestEvent, type Allowed, type Decision, type DecideOptions, type Held } from "./decision";
import { liveSessions } from "./live-sessions";
import { SessionGrants } from "./session-grants";
import { StandingDecisions, type Revocation } from "./standing";
import { GatehouseError, type AccessGrant, type ClassifiedRequest, type ClientInfo, type ConnectionRef, type GatewayRequest, type Principal, type Verdict } from "./types";
import { recordSessionEnd } from "@/lib/services/sessions/record-end";
import { sealQuietly } from "@/lib/services/sessions/seal";
import { loggable } from "@/lib/util/loggable";

/**
 * The core pipeline for one client session, written once for every protocol. An adapter
 * authenticates (authenticate.ts), opens a GatewaySession (which decides `connect`), then for
 * every statement/command calls `decide()` and obeys the Decision. Holding, masking selection
 * and recording of decisions happen here, never in adapters.
 */
export class GatewaySession {
  readonly recorder: SessionRecorder;
  private readonly grants = new SessionGrants(
    () => activeGrantsOf(this.db, this.principal.userId, this.connection.id, grantLineage(this.principal)),
    () => this.grantsChanged("an access grant expired"),
  );
  /** what was decided once and stays open (standing.ts): this session's connect, shells, forwards */
  readonly standing = new StandingDecisions((request) => this.verdictNow(request), (r) => this.recordRevocation(r));
  private ended = false;
  private refreshes = 0;
  private connectionRefreshes = 0;
  private expiryTimer: NodeJS.Timeout | null = null;
  private terminateHandlers: ((reason: string) => void)[] = [];
  /** why terminate() ended the session, once it has */
  private terminatedFor: string | null = null;
  /** aborted when the session ends: a hold still waiting then gives up (nothing may run in an ended session) */
  private readonly ending = new AbortController();
  readonly startedAt = Date.now();

  private constructor(
    private readonly db: Db,
    readonly id: string,
    private current: Principal,
    private target: ConnectionRef,
    readonly client: ClientInfo,
  ) {
    // Who, where and from where, sealed so that each statement's decision reuses what Cedar sees
    // of them (policy/context.ts); a refresh (a changed user or connection) seals a new one.
    sealForPolicy(current);
    sealForPolicy(target);
    sealForPolicy(client);
    this.recorder = new SessionRecorder(db, id);
    this.recorder.onOverflow = () => this.terminate("recording backlog exceeded: the database is not accepting session events");
  }

  /** Who the session acts for: as authenticated, with the user's role and groups as they are now. */
  get principal(): Principal {
    return this.current;
  }

  /** Where it goes, as policy sees it (name, type, tags) as it is now. */
  get connection(): ConnectionRef {
    return this.target;
  }

  /**
   * The connection was edited (Topics.connectionChanged): later requests, and what stays open,
   * are decided with its tags as they are now (a connection newly tagged `prod` holds the next
   * write of a session already open). Deleted: the session ends.
   */
  async refreshConnection(): Promise<void> {
    const gen = ++this.connectionRefreshes;
    const row = await getConnection(this.db, { id: this.target.id });
    if (this.ended || gen !== this.connectionRefreshes) return;
    if (!row) return this.terminate("the connection was deleted");
    const before = this.target;
    if (row.name === before.name && row.tags.join("\n") === before.tags.join("\n")) return;
    this.target = sealForPolicy({ id: row.id, name: row.name, type: row.type, tags: row.tags });
    this.recorder.record("connection", { name: row.name, tags: row.tags, before: { name: before.name, tags: before.tags } });
    await this.standing.recheck("the connection changed");
  }

  /**
   * The user's role or groups may have changed (Topics.userChanged): requests from now on are
   * decided with them as they are in the database, so a removed group or a demotion applies to
   * live sessions too, not only to new ones. Recorded when something changed.
   */
  async refreshPrincipal(): Promise<void> {
    const gen = ++this.refreshes;
    const [user, groups] = await Promise.all([getUserForSession(this.db, this.current.userId), groupNamesOf(this.db, this.current.userId)]);
    // A refresh started later (for a later change) read at least as late: it decides, not this one.
    if (this.ended || gen !== this.refreshes) return;
    if (!user || user.disabled) return this.terminate("the account was disabled");
    const before = this.current;
    if (user.role === before.role && groups.join("\n") === [...before.groups].sort().join("\n")) return;
    this.current = sealForPolicy({ ...before, role: user.role as Principal["role"], groups });
    this.recorder.record("principal", { role: user.role, groups, before: { role: before.role, groups: before.groups } });
    await this.standing.recheck("the user's role or groups changed");
  }

  /**
   * Reads again what the session is otherwise told of over the event bus — its credential (and
   * the tokens it descends from) revoked, the SSH key it logged in with removed, the user's role
   * and groups, the connection, the grants — for when a message from another process never
   * arrived (NOTIFY is best effort). Changes apply as they would have on the message. (An
   * administrator's kill is stored on the session row: node-liveness.ts finds it.)
   */
  async resync(): Promise<void> {
    if (this.ended) return;
    const p = this.principal;
    const ids = [p.tokenId, p.parentTokenId, ...p.chain.map((a) => a.tokenId)].filter((id): id is string => !!id);
    if (await anyTokenRevoked(this.db, [...new Set(ids)])) return this.terminate("the token of this session was revoked");
    if (p.sshKeyId && !(await sshKeyExists(this.db, p.sshKeyId))) return this.terminate("the SSH key this session logged in with was removed");
    await Promise.all([this.refreshPrincipal(), this.refreshConnection()]);
    this.grantsChanged("re-read in case a change was not announced");
  }

  /**
   * Registers something open that was allowed by `decision` (a shell, a forward) so that it is
   * decided again when its inputs change, and ended with `revoke` when policy no longer allows
   * it. `masked`: its stream goes through the decision's masker (a terminal), so masking it was
   * not opened under ends it too. Returns the function to call when it closes by itself.
   */
  stand(
    request: ClassifiedRequest,
    decision: Allowed,
    revoke: (reason: string) => void,
    opts: { masked?: boolean } = {},
  ): () => void {
    const ruleSets = opts.masked ? maskingOf(decision.verdict) : null;
    // Shown as its request was recorded: masked where masking applies (a secret on a command line).
    const visible = request.shown ?? request.text;
    const shown = decision.masker ? decision.masker.maskText(visible) : visible;
    const approved = decision.approvalId !== undefined;
    const approvedUnder = approved && decision.verdict.type === "hold" ? decision.verdict.requirement : undefined;
    return this.standing.add({ request, shown, requestSeq: decision.requestSeq, approved, approvedUnder, ruleSets, revoke }, decision.epoch);
  }

  /** The policy's verdict on `request` now, without holding (a standing decision's recheck). */
  private async verdictNow(request: ClassifiedRequest): Promise<Verdict> {
    if (this.ended) throw new Error("the session has ended");
    return getPolicyRuntime().decide(this.requestOf(request, await this.grants.current({ staleOk: true })));
  }

  /** What policy decides on: `request` by this session's principal, connection and client as they are now. */
  private requestOf(request: ClassifiedRequest, grants: AccessGrant[], now = new Date()): GatewayRequest {
    return { principal: this.principal, connection: this.connection, client: this.client, request, grants, now };
  }

  /**
   * What another policy version (`decideWith`) would end of what stands in this session now,
   * with its current inputs; nothing is ended or recorded. For previewing a policy change.
   */
  async previewStanding(decideWith: (req: GatewayRequest) => Verdict): Promise<{ action: string; shown: string; reason: string }[]> {
    if (this.ended) return [];
    const grants = await this.grants.current();
    const now = new Date();
    return this.standing
      .preview((request) => decideWith(this.requestOf(request, grants, now)))
      .map(({ standing, reason }) => ({ action: standing.request.action, shown: standing.shown, reason }));
  }

  private recordRevocation({ standing, verdict, reason, cause }: Revocation) {
    const { requestSeq, shown: text, request } = standing;
    this.recorder.record("revoked", { requestSeq, action: request.action, text, cause, verdict: verdict?.type ?? "deny", policies: verdict?.policies ?? [], reason });
  }

  /** Records the session and decides `connect`. Throws DENIED when policy refuses the session. */
  static async open(db: Db, input: { principal: Principal; connection: ConnectionRef; client: ClientInfo; applicationName?: string; parentSessionId?: string | null }, opts: DecideOptions = {}): Promise<GatewaySession> {
    const parentSessionId = input.parentSessionId ?? (await liveParentSession(db, input.principal.parentTokenId));
    const id = await insertSession(db, { principal: input.principal, connection: input.connection, client: input.client, applicationName: input.applicationName ?? "", parentSessionId, nodeId: getBus().nodeId });
    const session = new GatewaySession(db, id, input.principal, input.connection, input.client);
    liveSessions().add(session);
    const decision = await session.decide({ action: "connect", kind: "read", tables: [], functions: [], text: "" }, opts);
    if (decision.type === "deny") {
      await session.end("failed", decision.reason);
      throw new GatehouseError("DENIED", decision.reason);
    }
    // Killed, revoked or expired while `connect` waited for an approver: an approval given after
    // that must not hand the adapter a session to relay through (it would reach the upstream).
    if (session.ended) throw new GatehouseError("DENIED", "the session was ended while it waited for approval");
    const connectRequest: ClassifiedRequest = { action: "connect", kind: "read", tables: [], functions: [], text: "" };
    session.stand(connectRequest, decision, (reason) => session.terminate(`policy no longer allows this session: ${reason}`));
    session.endAtExpiry(input.principal.expiresAt);
    void getBus().publish(Topics.sessionStarted, { id, userId: input.principal.userId, connection: input.connection.name, user: input.principal.email, protocol: input.client.protocol });
    return session;
  }

  /** Policy decision for one request, with holds resolved. Never throws: errors deny. */
  async decide(request: ClassifiedRequest, opts: DecideOptions = {}): Promise<Decision> {
    let verdict: Verdict | null = null;
    let req: GatewayRequest | null = null;
    let failure: string | null = this.ended ? "session has ended" : null;
    const epoch = this.standing.epoch;
    if (!failure) {
      try {
        req = this.requestOf(request, await this.grants.current());
        verdict = getPolicyRuntime().decide(req);
      } catch (err) {
        console.error(`[gateway] session ${this.id}: decision failed, denying:`, loggable(err));
        failure = "policy decision failed";
      }
    }
    const masker = maskerFor(verdict, this.client.protocol);
    // Masking applies and the result cannot be masked, or the request would reveal masked values:
    // refused (held first would only waste an approver's time).
    const refused = verdict && verdict.type !== "deny" && masker?.active ? await maskedRefusal(request, masker) : null;
    if (refused !== null && verdict) verdict = { type: "deny", reason: refused, policies: verdict.policies };
    failure ??= "policy decision failed";
    const event = this.recorder.record(request.action === "connect" ? "connect" : "request", requestEvent(request, masker, verdict, failure));
    if (!verdict || !req) return this.deny(event.seq, null, failure);
    switch (verdict.type) {
      case "allow":
        return { type: "allow", verdict, masker: null, requestSeq: event.seq, epoch };
      case "mask":
        return { type: "allow", verdict, masker, requestSeq: event.seq, epoch };
      case "deny":
        return this.deny(event.seq, verdict, verdict.reason);
      case "hold":
        try {
          const held = await this.hold(event.seq, req, verdict, masker, epoch, opts);
          // Ended while it waited (the hold was given up then; an approval racing it counts for nothing).
          if (held.type === "allow" && this.ended) return this.deny(event.seq, verdict, "session has ended", held.approvalId);
          return held.type === "allow" ? await this.decideApproved(request, verdict, held) : held;
        } catch (err) {
          console.error(`[gateway] session ${this.id}: hold failed, denying:`, loggable(err));
          return this.deny(event.seq, verdict, "approval could not be obtained");
        }
    }
  }

  private async hold(seq: number, req: GatewayRequest, verdict: Held, masker: Masker | null, epoch: number, opts: DecideOptions): Promise<Decision> {
    const outcome = await holdForApproval(
      this.db,
      { request: req, requirement: verdict.requirement, sessionId: this.id, onCreated: (a) => {
        this.recorder.record("held", { requestSeq: seq, approvalId: a.id, url: a.url, requirement: verdict.requirement });
        opts.onHeld?.({ approvalId: a.id, url: a.url });
      } },
      { timeoutMs: opts.holdTimeoutMs, signal: opts.signal ? AbortSignal.any([opts.signal, this.ending.signal]) : this.ending.signal },
    );
    if (outcome.status !== "approved") {
      const reason = outcome.status === "denied" ? `denied by approver${outcome.reason ? `: ${outcome.reason}` : ""}` : `approval ${outcome.status}`;
      this.recorder.record("approval", { requestSeq: seq, status: outcome.status, approvalId: outcome.approvalId });
      return this.deny(seq, verdict, reason, outcome.approvalId, outcome.status === "cancelled");
    }
    this.recorder.record("approval", { requestSeq: seq, status: "approved", approvalId: outcome.approvalId });
    return { type: "allow", verdict, masker, requestSeq: seq, approvalId: outcome.approvalId, epoch };
  }

  /**
   * An approval stands for what was approved under the inputs it was held under, and an approver
   * may take minutes: meanwhile a new policy version may forbid the request or ask for more
   * approvers, the user may have left the group a permit needs, the connection may have been
   * re-tagged. So an approved request is decided once more before it runs, with the user and the
   * connection read again; it runs only if that answer would let it run now with this approval
   * (allow, mask, or a hold the approval satisfies), masked as both decisions say. Fails closed.
   */
  private async decideApproved(request: ClassifiedRequest, held: Held, approved: Allowed): Promise<Decision> {
    const seq = approved.requestSeq;
    let now: Verdict;
    try {
      await Promise.all([this.refreshPrincipal(), this.refreshConnection()]);
      this.grants.invalidate();
      now = getPolicyRuntime().decide(this.requestOf(request, await this.grants.current()));
    } catch (err) {
      console.error(`[gateway] session ${this.id}: deciding an approved request again failed, denying:`, loggable(err));
      now = { type: "deny", reason: "policy decision failed", policies: [] };
    }
    if (this.ended) return this.deny(seq, held, "session has ended", approved.approvalId);
    const ruleSets = [...new Set([...maskingOf(held), ...maskingOf(now)])].sort();
    const masker = maskerOf(ruleSets, this.client.protocol);
    const reason =
      now.type === "deny" ? now.reason
      : now.type === "hold" && !approvalSatisfies(held.requirement, now.requirement) ? "the policy now asks for another approval than the one given"
      : await maskedRefusal(request, masker);
    if (reason !== null) {
      this.recorder.record("revoked", { requestSeq: seq, action: request.action, text: approved.masker ? approved.masker.maskText(request.shown ?? request.text) : (request.shown ?? request.text), cause: "decided again once approved", verdict: now.type, policies: now.policies, reason });
      return this.deny(seq, now, reason, approved.approvalId);
    }
    return { ...approved, verdict: { ...held, maskRuleSets: ruleSets }, masker };
  }

  private deny(seq: number, verdict: Verdict | null, reason: string, approvalId?: number, withdrawn = false): Decision {
    return { type: "deny", verdict, reason, requestSeq: seq, approvalId, ...(withdrawn ? { withdrawn: true as const } : {}) };
  }

  /** The adapter reports what happened upstream (rows, duration, masked cells, error). */
  recordResult(requestSeq: number, result: Record<string, unknown>) {
    this.recorder.record("result", { requestSeq, ...result });
  }

  /** An approval was decided (maybe granting access): requests from now on see the grants as they are. */
  invalidateGrants() {
    this.grants.invalidate();
  }

  /** A grant of this user ended: re-read the grants and decide the standing decisions again. */
  grantsChanged(cause: string) {
    this.grants.invalidate();
    void this.standing.recheck(cause);
  }

  /**
   * A session never outlives its credential: at the token's expiry it is terminated like a
   * revocation. (A ticket only gates the connection: its principal carries the expiry of the
   * token it was minted from, see verifyToken.)
   */
  private endAtExpiry(expiresAt: Date | undefined) {
    if (!expiresAt) return;
    const ms = expiresAt.getTime() - Date.now();
    if (ms > 2 ** 31 - 1) return; // beyond setTimeout's range (> 24 days): revocation still applies
    const timer = setTimeout(() => this.terminate("the token of this session expired"), Math.max(0, ms));
    timer.unref();
    this.onTerminate(() => clearTimeout(timer));
    this.expiryTimer = timer;
  }

  /**
   * Register how the adapter closes its client (with a protocol-native message). A session ended
   * from outside before the adapter got here (killed while its upstream connected) is closed so at once.
   */
  onTerminate(fn: (reason: string) => void) {
    this.terminateHandlers.push(fn);
    const reason = this.terminatedFor;
    if (reason !== null) queueMicrotask(() => this.runTerminateHandler(fn, reason));
  }

  /** Ends the session from outside (admin kill, token revoked, user disabled, shutdown). */
  terminate(reason: string) {
    if (this.ended) return;
    this.terminatedFor = reason;
    this.recorder.record("terminated", { reason });
    for (const fn of this.terminateHandlers) this.runTerminateHandler(fn, reason);
    void this.end("killed", reason);
  }

  private runTerminateHandler(fn: (reason: string) => void, reason: string) {
    try {
      fn(reason);
    } catch (err) {
      console.error(`[gateway] terminate handler of ${this.id} failed:`, loggable(err));
    }
  }

  get isEnded() {
    return this.ended;
  }

  async end(status: "ended" | "killed" | "failed" = "ended", reason?: string): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.ending.abort();
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.grants.stop();
    this.standing.clear();
    liveSessions().remove(this);
    this.recorder.record("end", { status, ...(reason ? { reason } : {}) });
    const unwritten = await this.recorder.close();
    const lost = unwritten ? `${unwritten} events could not be recorded` : null;
    const stored = await recordSessionEnd(this.db, this.id, { status, endReason: reason && lost ? `${reason} (${lost})` : (reason ?? lost), endedAt: new Date() });
    // Viewers are told the status the session has: a kill stored before the client left stays one.
    void getBus().publish(Topics.sessionEnded, { id: this.id, userId: this.principal.userId, status: stored ?? status });
    // Sealed once complete; output left in the spool is stored, and the session sealed, by the next start.
    if (this.recorder.pending === 0) void this.sealWhenSettled(stored ?? status);
  }

  private async sealWhenSettled(status: string) {
    if (await recordingSettled(this.recorder)) await sealQuietly(this.db, this.id, { status }, this.recorder.recorded);
    else console.error(`[recorder] session ${this.id}: not sealed, its recording did not settle (events unstored or still arriving)`);
  }
}

