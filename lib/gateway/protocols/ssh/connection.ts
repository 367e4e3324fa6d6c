import type { Client as UpstreamClient, Connection, ServerChannel, Session } from "ssh2";
import type { Socket } from "node:net";
import type { Db } from "@/db/client";
import { GatewaySession } from "@/lib/gateway/core/session";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { GatehouseError, type ClassifiedRequest, type Principal } from "@/lib/gateway/core/types";
import { TerminalRecorder } from "@/lib/gateway/recorder/terminal";
import { ClientAgentBridge } from "./agent-forward";
import { channelFailure, clientSide, writeBatcher } from "./client-channel";
import { Forwarding, forwardEnded } from "./forward";
import { acceptLogins, clientSoftware, remoteIdent, storeUnavailable } from "./login";
import { SftpRelay } from "./sftp";
import { symlinkNeedsSwap } from "./sftp-wire";
import { PendingInput } from "./pending-input";
import { EXIT_DENIED, EXIT_INTERRUPTED, TerminalChannel, type ClientSide, type PtyInfo } from "./terminal-channel";
import { connectUpstream } from "./upstream";
import { upstreamPaths } from "./upstream-paths";
import { X11Relay, x11ForwardOf, type X11Forward } from "./x11-forward";
import { STORE_UNAVAILABLE } from "@/db/unavailable";

/**
 * One client SSH connection: authentication, then one GatewaySession (decided `connect`) and
 * one upstream SSH connection shared by all the client's channels (shells, execs, sftp,
 * forwards), each channel decided and recorded on its own.
 *
 *   client ──auth──► authenticateSsh ──► GatewaySession.open (connect) ──► connectUpstream
 *   client ──session channel──► pty/env/window-change ──► shell|exec|sftp ──► TerminalChannel / SftpRelay
 *   client ──direct-tcpip / tcpip-forward──► Forwarding (policy action "forward")
 *   client ──auth-agent / x11 on a session channel──► decideForward ──► ClientAgentBridge / X11Relay
 */
const AUTH_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_AUTH_TIMEOUT_MS ?? 30_000);
const ENV_ALLOWED = /^(LANG|LC_[A-Z]+|TERM|COLORTERM|TZ)$/;

/** How long a disconnect waits for the channels' outcomes before the session ends anyway. */
const SETTLE_MS = 2_000;

export class SshConnection {
  private principal: Principal | null = null;
  private target: UpstreamTarget | null = null;
  private opening: Promise<{ gw: GatewaySession; upstream: UpstreamClient }> | null = null;
  private gw: GatewaySession | null = null;
  private upstream: UpstreamClient | null = null;
  private nextChannel = 0;
  private readonly terminals = new Set<TerminalChannel>();
  /** channels whose outcome is not recorded yet: the session's `end` waits for them (briefly) */
  private readonly unsettled = new Set<Promise<void>>();
  /** a held `connect`: told to every channel waiting for the session, and to later ones */
  private heldNotice: string | null = null;
  private readonly waiting = new Set<ClientSide>();
  /**
   * Channels whose shell or command has no terminal yet (the session or the upstream is still
   * being opened, forwarding still decided): a kill then tells them why, as it tells terminals.
   */
  private readonly starting = new Map<ClientSide, { tell: (text: string) => void; ch: number; mode: "shell" | "exec" }>();
  /** why the session was killed, once it was: a channel still starting then never runs */
  private killedFor: string | null = null;
  private ended = false;
  /** aborted when the client goes: a `connect` still held for approval is given up with it */
  private readonly gone = new AbortController();
  /** the user gave up the held `connect` (Ctrl-C on a terminal): `gone` aborted for that */
  private gaveUp = false;
  private term: TerminalRecorder | null = null;
  private agent: ClientAgentBridge | null = null;
  private x11: X11Relay | null = null;
  /** agent and X11 forwarding allowed on this connection, each standing once (standing.ts) */
  private readonly forwardStanding = new Set<"agent" | "x11">();
  readonly closed: Promise<void>;
  private resolveClosed!: () => void;
  /** ssh2 keeps the client's socket to itself; its writes are batched per tick (writeBatcher) */
  private readonly batchWrites: () => void;

  constructor(
    private readonly db: Db,
    private readonly client: Connection,
    private readonly address: string,
  ) {
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.batchWrites = writeBatcher((client as unknown as { _sock?: Socket })._sock);
  }

  start() {
    const { client } = this;
    const authTimer = setTimeout(() => client.end(), AUTH_TIMEOUT_MS);
    client.on("error", () => {});
    client.on("close", () => {
      clearTimeout(authTimer);
      void this.end("client disconnected");
    });
    acceptLogins(this.db, client, this.address, (principal, target) => {
      this.principal = principal;
      this.target = target;
    });
    client.on("ready", () => {
      clearTimeout(authTimer);
      this.opening = this.open();
      this.opening.catch(() => {}); // reported to each channel
      client.on("session", (accept) => this.onSession(accept()));
      const forwarding = new Forwarding(client, () => this.opening!, this.address);
      client.on("tcpip", (accept, reject, info) => forwarding.onDirectTcpip(accept, reject, info));
      client.on("request", (accept, reject, name, info) => forwarding.onGlobalRequest(accept, reject, name, info));
      client.on("openssh.streamlocal", (_accept, reject, info) => forwarding.refuse(reject, "local", `unix socket ${info.socketPath}`));
    });
  }

  private async open(): Promise<{ gw: GatewaySession; upstream: UpstreamClient }> {
    const principal = this.principal!;
    const target = this.target!;
    const gw = await GatewaySession.open(
      this.db,
      { principal, connection: target.ref, client: { address: this.address, protocol: "ssh", origin: "native" }, applicationName: clientSoftware(this.client) },
      {
        signal: this.gone.signal,
        onHeld: (n) => {
          this.heldNotice = `connection held for approval #${n.approvalId}: ${n.url}`;
          for (const side of this.waiting) side.writeStderr(Buffer.from(`gatehouse: ${this.heldNotice}\r\n`));
        },
      },
    );
    this.gw = gw;
    this.heldNotice = null;
    // The client left while the session was being opened (end() found no session to end).
    if (this.ended) {
      await gw.end("ended", "client disconnected");
      throw new GatehouseError("DENIED", "the client disconnected");
    }
    this.term = new TerminalRecorder(gw.recorder);
    gw.onTerminate((reason) => this.kill(reason));
    this.agent = new ClientAgentBridge(this.client, () => {
      gw.recorder.record("forward", { type: "agent", target: "agent channel opened by the upstream host", allowed: true });
      return forwardEnded(gw, "agent", "agent channel");
    });
    try {
      this.upstream = await connectUpstream(this.db, target, { agent: this.agent });
    } catch (err) {
      gw.recorder.record("error", { message: (err as Error).message });
      await gw.end("failed", (err as Error).message);
      throw err;
    }
    this.x11 = new X11Relay(this.client, this.upstream, () => {
      const target = "x11 channel opened by the upstream host";
      gw.recorder.record("forward", { type: "x11", target, allowed: true });
      return forwardEnded(gw, "x11", target);
    });
    this.upstream.on("close", () => this.kill("the upstream host closed the connection"));
    if (this.ended) {
      this.upstream.end();
      if (!gw.isEnded) await gw.end("ended", "client disconnected");
    }
    return { gw, upstream: this.upstream };
  }

  private onSession(session: Session) {
    const ch = this.nextChannel++;
    let pty: PtyInfo | null = null;
    const env: Record<string, string> = {};
    let terminal: TerminalChannel | null = null;
    session.on("pty", (accept, _reject, info) => {
      // The size is asked upstream as the client asked: `ssh -tt` without a local terminal sends
      // 0x0, and its command sees "0 0" from sshd (the recording and the masker's wrap width
      // assume 80x24 then, terminal-channel.ts). An empty TERM cannot be passed on (ssh2 sends
      // "vt100" for it): "xterm" is the gateway's choice.
      pty = { term: info.term || "xterm", cols: info.cols, rows: info.rows, width: info.width, height: info.height, modes: info.modes };
      accept?.();
    });
    // The environment is what the client set before its command: a later env request (while the
    // command waits for approval, say) would change what was approved, and is refused.
    let commandRequested = false;
    session.on("env", (accept, reject, info) => {
      // ssh2 disables reject() once the channel started (and passes none when no reply is wanted)
      if (commandRequested) return void ((reject as (() => void) | undefined) && channelFailure(this.client, session));
      if (!ENV_ALLOWED.test(info.key)) return reject?.();
      env[info.key] = info.val;
      accept?.();
    });
    session.on("window-change", (accept, _reject, info) => {
      accept?.();
      if (pty) Object.assign(pty, { cols: info.cols, rows: info.rows, width: info.width, height: info.height });
      terminal?.resize(info.cols, info.rows, info.width, info.height);
    });
    session.on("signal", (accept, _reject, info) => {
      accept?.();
      terminal?.signal(info.name);
    });
    // A forwarding request held for approval is decided before the channel's command exists: its
    // notice waits for the command's stderr, where an exec's own hold notice goes too.
    const notices: { queued: string[]; write: ((text: string) => void) | null } = { queued: [], write: null };
    const notify = (text: string) => (notices.write ? notices.write(text) : notices.queued.push(text));
    // OpenSSH asks for the agent without waiting for the answer, then sends exec/shell at once:
    // the command waits for this decision so it knows whether to ask upstream for the agent.
    let agentAllowed: Promise<boolean> | null = null;
    session.on("auth-agent", (accept, reject) => {
      agentAllowed = this.decideForward(ch, "agent", notify).then((refusal) => {
        if (refusal === null) accept?.();
        else reject?.();
        return refusal === null;
      });
    });
    // OpenSSH sends x11-req with want-reply, then exec/shell and (stdin at its end) EOF at once.
    // The reply cannot wait for the decision: replies go out in request order, so the command
    // would have to wait too, and ssh2 no longer accepts a command after that EOF. So the request
    // is acknowledged at once; a refusal is told on the channel's stderr and recorded, and then
    // nothing asks the upstream for X11 (no DISPLAY there) and no X11 channel is relayed.
    let x11: Promise<X11Forward | { refused: string }> | null = null;
    session.on("x11", (accept, _reject, info) => {
      accept?.();
      x11 = this.decideForward(ch, "x11", notify).then((refusal) => (refusal === null ? x11ForwardOf(info) : { refused: refusal }));
    });
    const run = async (mode: "shell" | "exec", channel: ServerChannel, command?: string) => {
      commandRequested = true;
      const side = clientSide(channel, this.batchWrites);
      const tell = (text: string) => side.writeStderr(Buffer.from(`gatehouse: ${text}${pty ? "\r\n" : "\n"}`));
      notices.write = tell;
      for (const text of notices.queued.splice(0)) tell(text);
      if (this.killedFor !== null) return endUnstarted(side, tell, this.killedFor);
      let opened: { gw: GatewaySession; upstream: UpstreamClient };
      if (this.heldNotice) tell(this.heldNotice);
      this.waiting.add(side);
      this.starting.set(side, { tell, ch, mode });
      side.onClose(() => this.starting.delete(side));
      // Read from now on: typed ahead for the command, but a terminal's Ctrl-C while `connect` is
      // held gives the session up (its hold cancelled), as it gives up a command's own hold.
      const input = PendingInput.reading(side, pty !== null);
      input.interrupt = () => {
        if (!this.heldNotice || this.gone.signal.aborted) return;
        this.gaveUp = true;
        this.gone.abort();
      };
      input.deciding = true;
      try {
        opened = await this.opening!;
        input.deciding = false;
      } catch (err) {
        this.waiting.delete(side);
        this.starting.delete(side);
        if (this.killedFor !== null) return; // killed meanwhile: told and ended already
        if (this.gaveUp) {
          tell("gave up waiting for approval (Ctrl-C); nothing was run");
          side.exit({ code: EXIT_INTERRUPTED });
          side.end();
          setTimeout(() => this.client.end(), 100);
          return;
        }
        const why = err instanceof GatehouseError ? err.message : storeUnavailable(err) ? STORE_UNAVAILABLE : "the session could not be opened";
        tell(why);
        side.exit({ code: EXIT_DENIED });
        side.end();
        setTimeout(() => this.client.end(), 100);
        return;
      }
      this.waiting.delete(side);
      const agentForward = agentAllowed ? await agentAllowed : false;
      const x11Decided = x11 ? await x11 : null;
      let x11Forward: X11Forward | null = null;
      if (x11Decided && "refused" in x11Decided) tell(`X11 forwarding refused: ${x11Decided.refused}`);
      else x11Forward = x11Decided;
      // Killed while it started: kill() told it why and ended it.
      this.starting.delete(side);
      if (this.killedFor !== null) return;
      terminal = new TerminalChannel({ gw: opened.gw, upstream: opened.upstream, client: side, term: this.term!, ch, mode, command, pty, env, agentForward, x11Forward, input });
      this.terminals.add(terminal);
      this.unsettled.add(terminal.settled);
      void terminal.settled.then(() => this.unsettled.delete(terminal!.settled));
      side.onClose(() => this.terminals.delete(terminal!));
      await terminal.run();
    };
    // A channel runs one shell, command or subsystem. ssh2 hands out no channel for a second
    // request on a started one (accept() returns nothing) and its reject() is then a no-op.
    const started = (channel: ServerChannel | undefined, reject: (() => void) | undefined, what: string): channel is ServerChannel => {
      if (channel) return true;
      if (reject) channelFailure(this.client, session);
      this.gw?.recorder.record("error", { ch, message: `refused a second ${what} on a channel already running one` });
      return false;
    };
    session.on("shell", (accept, reject) => {
      const channel = accept();
      if (started(channel, reject, "shell")) void run("shell", channel);
    });
    session.on("exec", (accept, reject, info) => {
      const channel = accept();
      if (started(channel, reject, "exec")) void run("exec", channel, info.command);
    });
    session.on("subsystem", (accept, reject, info) => {
      if (info.name !== "sftp") {
        this.gw?.recorder.record("error", { ch, message: `refused subsystem ${JSON.stringify(info.name.slice(0, 100))}` });
        return reject?.();
      }
      const channel = accept();
      if (started(channel, reject, "subsystem")) void this.startSftp(channel, ch);
    });
  }

  private async startSftp(channel: ServerChannel, ch: number) {
    try {
      const { gw, upstream } = await this.opening!;
      const up = await new Promise<import("ssh2").ClientChannel>((resolve, reject) => upstream.subsys("sftp", (err, s) => (err ? reject(err) : resolve(s))));
      gw.recorder.record("sftp", { ch, op: "start", path: "" });
      // each side's banner, as ssh2 reads it for SYMLINK's argument order (sftp-wire.ts symlinkNeedsSwap)
      new SftpRelay(gw, ch, channel, up, upstreamPaths(upstream), symlinkNeedsSwap(remoteIdent(this.client), remoteIdent(upstream))).start();
    } catch (err) {
      channel.stderr.write(`gatehouse: ${(err as Error).message}\n`);
      channel.exit(EXIT_DENIED);
      channel.end();
    }
  }

  /**
   * Agent or X11 forwarding for one session channel: policy action `forward`, text "agent" or
   * "x11". Resolves to null when allowed, else to the reason it was refused.
   */
  private async decideForward(ch: number, type: "agent" | "x11", notify: (text: string) => void): Promise<string | null> {
    try {
      const { gw } = await this.opening!;
      const request: ClassifiedRequest = { action: "forward", kind: "admin", tables: [], functions: [], text: type };
      const decision = await gw.decide(request, { onHeld: (n) => notify(`${type === "agent" ? "agent" : "X11"} forwarding held for approval #${n.approvalId}: ${n.url} (waiting)`) });
      gw.recorder.record("forward", { ch, type, allowed: decision.type === "allow", ...(decision.type === "deny" ? { reason: decision.reason } : {}) });
      if (decision.type === "deny") return decision.reason;
      const gate = (type === "agent" ? this.agent : this.x11)?.gate;
      gate?.allow();
      // Allowed for the rest of the connection, unless policy stops allowing it: decided again
      // as one thing per connection, however many session channels ask for it.
      if (!this.forwardStanding.has(type)) {
        this.forwardStanding.add(type);
        gw.stand(request, decision, () => {
          this.forwardStanding.delete(type);
          gate?.withdraw();
        });
      }
      return null;
    } catch {
      return "the session could not be opened";
    }
  }

  /** Admin kill, revocation, expiry, upstream loss: tell every channel why, then disconnect. */
  private kill(reason: string) {
    this.killedFor ??= reason;
    for (const t of this.terminals) t.terminate(reason);
    for (const [side, { tell, ch, mode }] of this.starting) {
      // its command was never decided, so never recorded: this says a channel asked for one
      this.gw?.recorder.record("error", { ch, message: `${mode} not run: the session ended before it started (${reason})` });
      endUnstarted(side, tell, reason);
    }
    this.starting.clear();
    setTimeout(() => this.client.end(), 200).unref();
  }

  async end(reason: string) {
    if (this.ended) return;
    this.ended = true;
    this.gone.abort();
    this.term?.flushAll();
    this.upstream?.end();
    // Closing the upstream ends its channels; each records how its command ended. The session's
    // `end` comes after those (it came before, and a result recorded once the recorder had closed
    // was lost), but never waits long on an upstream that does not answer.
    if (this.unsettled.size) await Promise.race([Promise.all(this.unsettled), new Promise((r) => setTimeout(r, SETTLE_MS).unref())]);
    if (this.gw && !this.gw.isEnded) await this.gw.end("ended", reason);
    this.resolveClosed();
  }

  /** Server shutdown / registry: end with a message. */
  terminate(reason: string) {
    if (this.gw) this.gw.terminate(reason);
    else this.client.end();
  }
}

/** A channel whose command never started, the session being ended: told why, as OpenSSH's own failures exit (255). */
function endUnstarted(side: ClientSide, tell: (text: string) => void, reason: string) {
  tell(`session ended: ${reason}`);
  side.exit({ code: 255 });
  side.end();
}
