import type { Client, ClientChannel as UpstreamChannel, PseudoTtyOptions } from "ssh2";
import { limitFrom } from "@/lib/auth/caller-caps";
import type { Decision } from "@/lib/gateway/core/decision";
import type { GatewaySession } from "@/lib/gateway/core/session";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { createStreamMasker, type Masker, type StreamMasker } from "@/lib/gateway/masking";
import { completeUtf8Length, type TerminalRecorder } from "@/lib/gateway/recorder/terminal";
import { classifyCommand, classifyExec } from "./classify";
import { changedOnHost, upstreamPaths } from "./upstream-paths";
import type { X11Forward } from "./x11-forward";
import { PendingInput } from "./pending-input";

/**
 * One terminal channel (interactive shell or exec) through the core pipeline: decide, then
 * relay between the client and the upstream channel with masking and recording. The client
 * side is an interface so the same code serves native SSH channels and the browser terminal.
 */
export interface ClientSide {
  write(data: Buffer): boolean;
  writeStderr(data: Buffer): void;
  onData(fn: (data: Buffer) => void): void;
  /** the client sent EOF (exec with stdin closed) */
  onEof(fn: () => void): void;
  onClose(fn: () => void): void;
  onDrain(fn: () => void): void;
  pause(): void;
  resume(): void;
  exit(status: ExitStatus): void;
  end(): void;
}

/** How the command ended: its exit status, or the signal that killed it (and whether it dumped core). */
export interface ExitStatus {
  code: number | null;
  signal?: string | null;
  coreDumped?: boolean;
}

export interface PtyInfo {
  term: string;
  cols: number;
  rows: number;
  width: number;
  height: number;
  modes?: PseudoTtyOptions["modes"];
}

export interface TerminalChannelOptions {
  gw: GatewaySession;
  upstream: Client;
  client: ClientSide;
  term: TerminalRecorder;
  ch: number;
  mode: "shell" | "exec";
  command?: string;
  pty: PtyInfo | null;
  env: Record<string, string>;
  /** ask the upstream to forward the client's agent (policy allowed it for this channel) */
  agentForward?: boolean;
  /** ask the upstream for X11 with the client's own x11-req (policy allowed it for this channel) */
  x11Forward?: X11Forward | null;
  /** the channel's input, read since before the session opened (connection.ts); else read from here */
  input?: PendingInput;
}

export const EXIT_DENIED = 126;
/** a command given up before it ran (Ctrl-C, a signal): a shell's status for SIGINT */
export const EXIT_INTERRUPTED = 130;
/** signals that would end a command: sent while it is being decided, they give the wait up */
const ENDING_SIGNALS = new Set(["INT", "TERM", "HUP", "KILL", "QUIT"]);
/**
 * Under terminal masking, output the stream masker holds back (a run that a later chunk may turn
 * into a value: "4111 1111 " before "1111 1111") is let out after this long without new output.
 * A value written in pieces further apart than this is not joined (README "Not supported yet").
 */
const maskIdleFlushMs = limitFrom("GATEHOUSE_SSH_MASK_IDLE_MS", 30);

/** `tty`: the command gets a pseudo-terminal (pagers are then interactive, see classifyCommand). */
export function requestOf(mode: "shell" | "exec", command?: string, tty = false): ClassifiedRequest {
  return mode === "shell" ? { action: "exec", kind: "interactive", tables: [], functions: [], text: "shell" } : classifyCommand(command ?? "", { tty });
}

export class TerminalChannel {
  private upstreamChannel: UpstreamChannel | null = null;
  private exitStatus: ExitStatus = { code: null };
  private closed = false;
  private readonly nl: string;
  /** resolves once the channel's outcome is recorded (its result, or that it never ran) */
  readonly settled: Promise<void>;
  private settle!: () => void;

  constructor(private readonly o: TerminalChannelOptions) {
    this.nl = o.pty ? "\r\n" : "\n";
    this.settled = new Promise((r) => (this.settle = r));
    o.client.onClose(() => {
      this.closed = true;
      this.abort.abort();
      this.upstreamChannel?.close();
    });
    // Read from the start: what the client sends before its command runs is kept for it
    // (typed ahead), except that a terminal's Ctrl-C while the command is being decided gives
    // the wait up. Left unread, that ^C reached the command the moment it was approved and
    // started — after it had begun doing what the user meant to cancel.
    this.input = o.input ?? PendingInput.reading(o.client, o.pty !== null);
    this.input.interrupt = () => this.giveUp("Ctrl-C");
  }

  private readonly abort = new AbortController();
  private readonly input: PendingInput;
  /** why the user gave up waiting for the decision (Ctrl-C, a signal), once they did */
  private gaveUp: string | null = null;

  /** Tells the client something on stderr (held notices, refusals, the kill reason). */
  notice(text: string) {
    if (!this.closed) this.o.client.writeStderr(Buffer.from(`gatehouse: ${text}${this.nl}`));
  }

  resize(cols: number, rows: number, width = 0, height = 0) {
    if (this.o.pty) Object.assign(this.o.pty, { cols, rows });
    this.upstreamChannel?.setWindow(rows, cols, height, width);
    this.o.term.resize(this.o.ch, cols, rows);
  }

  /**
   * A signal for the command. Before it runs there is no process to deliver it to: a signal that
   * would end one gives up the decision's wait (as Ctrl-C does), since delivered later it would
   * only interrupt the command after it started; any other is dropped.
   */
  signal(name: string) {
    if (this.upstreamChannel) return void this.upstreamChannel.signal(name);
    if (ENDING_SIGNALS.has(name.replace(/^SIG/, ""))) this.giveUp(`signal ${name.replace(/^SIG/, "")}`);
  }

  /** The user gave up while the command was being decided (a hold given up, nothing runs). */
  private giveUp(how: string) {
    if (!this.input.deciding || this.gaveUp) return;
    this.gaveUp = how;
    this.abort.abort();
  }

  /** Ends the channel from outside (admin kill, revocation, shutdown) with a visible reason. */
  terminate(reason: string) {
    this.endWith(`session ended: ${reason}`);
  }

  private endWith(notice: string) {
    if (this.closed) return;
    this.notice(notice);
    this.o.client.exit({ code: 255 });
    this.o.client.end();
    this.upstreamChannel?.close();
  }

  async run(): Promise<void> {
    try {
      await this.decideAndRelay();
    } finally {
      // relaying: settled when the upstream channel closes (relay); otherwise it never ran
      if (!this.upstreamChannel) this.settle();
    }
  }

  private async decideAndRelay(): Promise<void> {
    const { gw, client, mode, command, pty } = this.o;
    // A server reading the command as a C string runs only what precedes a NUL (`cp k ~/.ssh\0_old/k`
    // copies into ~/.ssh), while policy would judge, and the recording show, the whole line.
    if (command?.includes("\0")) {
      gw.recorder.record("error", { ch: this.o.ch, message: "refused an exec command containing a NUL byte" });
      this.notice("denied: the command contains a NUL byte");
      client.exit({ code: EXIT_DENIED });
      client.end();
      return;
    }
    const onHost = this.requestOnHost();
    const request = await onHost();
    this.input.deciding = true;
    const decision: Decision = await gw.decide(request, {
      signal: this.abort.signal,
      onHeld: (n) => this.notice(`held for approval #${n.approvalId}: ${n.url} (waiting; Ctrl-C to give up)`),
    });
    this.input.deciding = false;
    if (this.closed) return;
    if (this.gaveUp) {
      // The hold was given up (its approval cancelled), or an answer arrived as the user gave up:
      // either way nothing runs, as the user asked.
      this.notice(`gave up waiting for approval (${this.gaveUp}); nothing was run`);
      gw.recordResult(decision.requestSeq, { exitCode: EXIT_INTERRUPTED, denied: true, error: `the user gave up waiting (${this.gaveUp})` });
      client.exit({ code: EXIT_INTERRUPTED });
      client.end();
      return;
    }
    // The host is asked again right before the run: the wait (for an approver above all) is a
    // window to swap a judged directory for a link. (What is left is the exec's round trip.)
    const changed = decision.type === "allow" ? changedOnHost(request, await onHost()) : null;
    if (this.closed) return;
    if (decision.type === "deny" || changed) {
      const reason = decision.type === "deny" ? decision.reason : changed;
      this.notice(`denied: ${reason}`);
      gw.recordResult(decision.requestSeq, { exitCode: EXIT_DENIED, denied: true, ...(changed ? { error: changed } : {}) });
      client.exit({ code: EXIT_DENIED });
      client.end();
      return;
    }
    if (decision.approvalId) this.notice(`approved (#${decision.approvalId}), running`);
    const started = Date.now();
    let upstream: UpstreamChannel;
    try {
      upstream = await this.openUpstream();
    } catch (err) {
      this.notice(`the upstream refused the ${mode}: ${(err as Error).message}`);
      gw.recordResult(decision.requestSeq, { error: (err as Error).message });
      client.exit({ code: 255 });
      client.end();
      return;
    }
    if (this.closed) return void upstream.close();
    this.upstreamChannel = upstream;
    this.relay(upstream, request, decision, started);
  }

  /** The channel's request; an exec that writes, as its paths resolve on the host (upstream-paths.ts). */
  /** The request as the host makes it, asked anew at each call (the command is parsed once). */
  private requestOnHost(): () => Promise<ClassifiedRequest> {
    const { mode, command, pty, upstream } = this.o;
    if (mode === "shell") return async () => requestOf(mode);
    const { request, targets, atLeast } = classifyExec(command ?? "", { tty: pty !== null });
    return () => upstreamPaths(upstream).judge(request, targets, atLeast);
  }

  private async openUpstream(): Promise<UpstreamChannel> {
    const { x11Forward } = this.o;
    if (!x11Forward) return this.openUpstreamWith(null);
    try {
      return await this.openUpstreamWith(x11Forward);
    } catch (err) {
      // ssh2 fails the whole exec/shell when the upstream refuses X11 (the command has not been
      // sent yet); OpenSSH would warn and go on, and so does Gatehouse.
      if ((err as Error).message !== "Unable to request X11") throw err;
      this.notice("the upstream host refused X11 forwarding");
      this.o.gw.recorder.record("forward", { ch: this.o.ch, type: "x11", allowed: false, reason: "refused by the upstream host" });
      return this.openUpstreamWith(null);
    }
  }

  private openUpstreamWith(x11: X11Forward | null): Promise<UpstreamChannel> {
    const { upstream, mode, command, pty, env, agentForward } = this.o;
    const ptyOpts = pty ? { term: pty.term, cols: pty.cols, rows: pty.rows, width: pty.width, height: pty.height, modes: pty.modes } : undefined;
    return new Promise((resolve, reject) => {
      const cb = (err: Error | undefined, ch: UpstreamChannel) => {
        if (err) return reject(err);
        // A command that fails at once can exit before relay() runs (ssh2 emits "exit" while
        // reading the socket, and `exit` is an event, not buffered stream data): listen now.
        ch.on("exit", (code: number | null, signal?: string, coreDumped?: boolean) => (this.exitStatus = { code: code ?? null, signal: signal ?? null, coreDumped: coreDumped === true }));
        resolve(ch);
      };
      const opts = { env: env as NodeJS.ProcessEnv, ...(agentForward ? { agentForward: true } : {}), ...(x11 ? { x11 } : {}) };
      if (mode === "shell") upstream.shell(ptyOpts ?? false, opts, cb);
      else upstream.exec(command ?? "", { ...opts, ...(ptyOpts ? { pty: ptyOpts } : {}) }, cb);
    });
  }

  private relay(up: UpstreamChannel, request: ClassifiedRequest, decision: Extract<Decision, { type: "allow" }>, started: number) {
    const { client, term, ch, gw, pty, mode, command } = this.o;
    // Decided once, open for as long as it runs: decided again when its inputs change.
    const release = gw.stand(request, decision, (reason) => this.endWith(`${mode} ended: policy no longer allows it (${reason})`), { masked: true });
    // The command is recorded masked, as its `request` event is (a secret on a command line).
    const shown = command && decision.masker ? decision.masker.maskText(command) : command;
    term.start(ch, { mode, cols: pty?.cols || 80, rows: pty?.rows || 24, term: pty?.term ?? "", ...(shown ? { command: shown } : {}) }, decision.masker);
    // On a terminal, a line break where it wraps anyway does not split a value (masking/wrap.ts);
    // a pty of unknown size (0 columns) is taken to wrap at 80, as most do.
    const columns = () => (this.o.pty ? this.o.pty.cols || 80 : 0);
    const out = new MaskedStream(decision.masker, columns, (buf) => {
      term.output(ch, buf);
      return client.write(buf);
    });
    const err = new MaskedStream(decision.masker, columns, (buf) => {
      term.output(ch, buf, true);
      client.writeStderr(buf);
      return true;
    });
    up.on("data", (chunk: Buffer) => {
      if (!out.push(chunk)) up.pause();
    });
    up.stderr.on("data", (chunk: Buffer) => err.push(chunk));
    client.onDrain(() => up.resume());
    up.on("drain", () => client.resume());
    this.input.relayTo((data) => {
      term.input(ch, data);
      return up.write(data);
    }, () => up.end());
    up.on("close", () => {
      release();
      const status = this.exitStatus;
      out.end();
      err.end();
      term.exit(ch, status);
      gw.recordResult(decision.requestSeq, {
        exitCode: status.code,
        ...(status.signal ? { signal: status.signal } : {}),
        durationMs: Date.now() - started,
        ...term.bytes(ch),
        maskedSpans: decision.masker ? decision.masker.counts().reduce((n, c) => n + c.matches, 0) : 0,
      });
      term.close(ch);
      this.settle();
      if (!this.closed) {
        // ssh2: exit-status must be sent before the channel is ended
        client.exit(status);
        client.end();
      }
    });
  }
}

/**
 * Output through the stream masker when masking applies (holding back what could still grow
 * into a secret, released after an idle pause), raw otherwise. Returns false for backpressure.
 */
class MaskedStream {
  private readonly masker: StreamMasker | null;
  private readonly carry = new Map<string, Buffer>();
  private idle: NodeJS.Timeout | null = null;

  constructor(
    private readonly base: Masker | null,
    columns: () => number,
    private readonly sink: (buf: Buffer) => boolean,
  ) {
    this.masker = base ? createStreamMasker(base, { columns }) : null;
  }

  push(chunk: Buffer): boolean {
    if (!this.masker) return this.sink(chunk);
    const text = decodeLossy(this.carry, chunk);
    const masked = this.masker.push(text);
    this.restartIdle();
    return masked ? this.emit(masked) : true;
  }

  end() {
    if (this.idle) clearTimeout(this.idle);
    if (!this.masker) return;
    const rest = this.carry.get("x");
    const text = this.masker.push(rest ? rest.toString("utf8") : "") + this.masker.flush();
    if (text) this.emit(text);
  }

  private restartIdle() {
    if (this.idle) clearTimeout(this.idle);
    this.idle = setTimeout(() => {
      const text = this.masker!.flush();
      if (text) this.emit(text);
    }, maskIdleFlushMs());
  }

  private emit(masked: string): boolean {
    return this.sink(Buffer.from(masked, "utf8"));
  }
}

/** Masking works on text: decode the complete characters, carry an incomplete one over. */
function decodeLossy(carry: Map<string, Buffer>, chunk: Buffer): string {
  const prev = carry.get("x");
  const buf = prev ? Buffer.concat([prev, chunk]) : chunk;
  const end = completeUtf8Length(buf);
  if (end < buf.length) carry.set("x", Buffer.from(buf.subarray(end)));
  else carry.delete("x");
  return buf.subarray(0, end).toString("utf8");
}
