import type { Decision } from "@/lib/gateway/core/decision";
import type { GatewaySession } from "@/lib/gateway/core/session";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { str, unwrap } from "./classify/ast";
import { parseSql } from "./classify/parser";
import type { StatementClass } from "./classify";

/**
 * What a statement keeps open after it was decided: the data of a `COPY ... FROM STDIN` (which
 * can stream for hours) and the notifications a `LISTEN` keeps delivering. Each is a standing
 * decision of the session (core/standing.ts): decided again when the policy, the user's groups,
 * the connection or the grants change, and revoked when the answer no longer lets it run —
 *   - a COPY FROM: the upstream COPY is aborted with CopyFail (the server answers the client with
 *     its own ErrorResponse and rolls the rows back) and the client's remaining COPY data is
 *     dropped; a kill or revocation of the session does the same before closing;
 *   - a LISTEN: its channel's notifications are no longer relayed (the client is told with a
 *     NOTICE); also when masking now applies to it, since payloads were relayed unmasked.
 */

export interface LongRunningIo {
  /** sends CopyFail(message) to the upstream */
  copyFail(message: string): void;
  /** sends the client a warning */
  notice(message: string): void;
}

export class LongRunning {
  /** the COPY FROM STDIN in flight: its standing decision's release */
  private copy: (() => void) | null = null;
  /** client COPY messages after a revoked COPY: dropped until the client sends anything else */
  dropCopyData = false;
  private readonly listens = new Map<string, () => void>();
  /** channels whose LISTEN was revoked: their notifications are withheld */
  readonly blocked = new Set<string>();

  constructor(
    private readonly gw: GatewaySession,
    private readonly io: LongRunningIo,
  ) {}

  get copying(): boolean {
    return this.copy !== null;
  }

  /**
   * Registers what `statements` keep open once `request` was allowed by `decision`; returns what
   * to call when the request's results are complete (its ReadyForQuery), or null.
   */
  opened(statements: readonly StatementClass[], request: ClassifiedRequest, decision: Decision): (() => void) | null {
    if (decision.type !== "allow") return null;
    let done: (() => void) | null = null;
    for (const s of statements) {
      if (s.node === "CopyStmt" && s.dataModifying && !this.copy) {
        const release = this.gw.stand(request, decision, (reason) => this.revokeCopy(reason));
        this.copy = release;
        done = () => {
          release();
          if (this.copy === release) this.copy = null;
        };
      } else if (s.node === "ListenStmt" || s.node === "UnlistenStmt") {
        const channel = channelOf(s.text);
        if (s.node === "UnlistenStmt") this.unlisten(channel);
        else if (channel !== null) this.listen(channel, { ...request, text: s.text }, decision);
      }
    }
    return done;
  }

  /** The session is closing: an upstream COPY still open is aborted first. */
  closing(reason: string) {
    if (this.copy) this.io.copyFail(`gatehouse: ${reason}`);
    this.copy = null;
    for (const release of this.listens.values()) release();
    this.listens.clear();
  }

  private revokeCopy(reason: string) {
    if (!this.copy) return;
    this.copy = null;
    this.dropCopyData = true;
    this.io.copyFail(`gatehouse: policy no longer allows this COPY: ${reason}`);
  }

  private listen(channel: string, request: ClassifiedRequest, decision: Extract<Decision, { type: "allow" }>) {
    this.blocked.delete(channel);
    this.listens.get(channel)?.();
    const release = this.gw.stand(request, decision, (reason) => {
      this.listens.delete(channel);
      this.blocked.add(channel);
      this.io.notice(`gatehouse: notifications on channel "${channel}" are no longer delivered: policy no longer allows LISTEN (${reason})`);
    }, { masked: true });
    this.listens.set(channel, release);
  }

  /** `channel` null: UNLISTEN * */
  private unlisten(channel: string | null) {
    for (const [name, release] of this.listens) {
      if (channel !== null && name !== channel) continue;
      release();
      this.listens.delete(name);
    }
  }
}

/** The channel a LISTEN/UNLISTEN names (as the server folds it); null for UNLISTEN * or text that does not parse. */
function channelOf(text: string): string | null {
  try {
    const stmt = unwrap(parseSql(text, "channelOf").stmts?.[0]?.stmt);
    return stmt ? (str(stmt[1].conditionname) ?? null) : null;
  } catch {
    return null;
  }
}
