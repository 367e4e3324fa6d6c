import type { ClientChannel, Client as UpstreamClient } from "ssh2";
import type { Db } from "@/db/client";
import type { Decision } from "@/lib/gateway/core/decision";
import type { GatewaySession } from "@/lib/gateway/core/session";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { Masker } from "@/lib/gateway/masking";
import { TerminalChannel } from "@/lib/gateway/protocols/ssh/terminal-channel";
import { connectUpstream } from "@/lib/gateway/protocols/ssh/upstream";
import { TerminalRecorder } from "@/lib/gateway/recorder/terminal";
import { BufferedClient } from "./buffered-client";
import type { Allowed } from "./gateway-call";

export { MAX_OUTPUT_BYTES } from "./buffered-client";

/** after the KILL signal, how long the upstream gets to report the exit before the channel is closed */
const KILL_GRACE_MS = 5_000;
/** bound on waiting for the channel's result after it closed (it is recorded on the upstream's close) */
const RESULT_GRACE_MS = 5_000;

export interface SshExecOutcome {
  exitCode: number | null;
  signal?: string;
  stdout: string;
  stderr: string;
  /** total (masked) bytes the command wrote, also beyond the cap */
  bytes: { stdout: number; stderr: number };
  truncated: boolean;
  timedOut: boolean;
  durationMs: number;
  maskedSpans: number;
  /** the command did not run to an exit: upstream refusal, or the session was ended */
  failure?: { kind: "upstream" | "terminated"; message: string };
}

export interface SshExecInput {
  db: Db;
  session: GatewaySession;
  decision: Allowed;
  target: UpstreamTarget;
  command: string;
  timeoutMs: number;
  /** called every `progressMs` while the command runs (keeps MCP clients' request timeouts alive) */
  onProgress?(elapsedMs: number): void;
  progressMs?: number;
  /** aborts when the MCP client went away or cancelled the call: the command is killed as on a timeout */
  signal?: AbortSignal;
}

/**
 * One allowed `run_ssh_command`, executed on the SSH path native clients use: the stored
 * credential and host-key pin (connectUpstream), then TerminalChannel in mode "exec", which
 * relays, masks (terminal stream masking) and records (`term.*`, `result`) exactly as for
 * `ssh host cmd`. The MCP side is only a ClientSide that buffers what a native client would
 * have been sent.
 *
 * TerminalChannel decides its own request; here the decision was already made (and, if held,
 * approved) by runGatewayCall, so the channel gets a view of the session whose `decide` hands
 * back that decision instead of asking policy a second time (a second ask would record a
 * second request and could raise a second hold).
 */
export async function runSshExec(o: SshExecInput): Promise<SshExecOutcome> {
  const { session, decision, command } = o;
  const started = Date.now();
  let upstream: UpstreamClient;
  try {
    upstream = await connectUpstream(o.db, o.target);
  } catch (err) {
    const message = (err as Error).message;
    session.recordResult(decision.requestSeq, { error: message });
    return failed("upstream", publicUpstreamMessage(message), started);
  }

  if (session.isEnded) {
    // killed or revoked while connecting: the decision no longer stands
    upstream.end();
    return failed("terminated", "the session was ended before the command could run", started);
  }
  const client = new BufferedClient();
  const term = new ExecRecorder(session.recorder, decision.masker);
  let timedOut = false;
  let cancelled = false;
  let terminated: string | null = null;
  let recorded: Record<string, unknown> | null = null;
  let onRecorded: () => void = () => {};
  const resultRecorded = new Promise<void>((r) => (onRecorded = r));

  const view = sessionView(session, command, { ...decision, approvalId: undefined }, (seq, result) => {
    // The channel records its result when the upstream channel closes; add what only this side knows.
    recorded = result;
    session.recordResult(seq, { ...result, ...(timedOut ? { timedOut: true } : {}), ...(cancelled ? { cancelled: true } : {}), ...(client.truncated ? { truncated: true } : {}) });
    onRecorded();
  });
  let execChannel: ClientChannel | null = null;
  const channel = new TerminalChannel({ gw: view, upstream: capturingExec(upstream, (c) => (execChannel = c)), client, term, ch: 0, mode: "exec", command, pty: null, env: { LANG: "C.UTF-8" } });
  session.onTerminate((reason) => {
    terminated = reason;
    channel.terminate(reason);
  });

  let killTimer: NodeJS.Timeout | null = null;
  // killpg on the upstream (OpenSSH's "signal" request); without an exit in time, close the channel.
  const kill = (why: string) => {
    if (execChannel) sendSignal(upstream, execChannel, "KILL");
    killTimer ??= setTimeout(() => channel.terminate(why), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill(`the command did not stop within ${Math.round(o.timeoutMs / 1000)} s`);
  }, o.timeoutMs);
  // A client that went away or cancelled stops its command, as closing a native ssh does.
  const gone = () => {
    cancelled = true;
    kill("the MCP client went away or cancelled the call");
  };
  o.signal?.addEventListener("abort", gone, { once: true });
  const progress = o.onProgress ? setInterval(() => o.onProgress!(Date.now() - started), o.progressMs ?? 10_000) : null;
  try {
    await channel.run();
    await client.ended;
    if (term.started && !recorded) await Promise.race([resultRecorded, new Promise((r) => setTimeout(r, RESULT_GRACE_MS))]);
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener("abort", gone);
    if (killTimer) clearTimeout(killTimer);
    if (progress) clearInterval(progress);
    term.flushAll();
    upstream.end();
  }

  const result = (recorded ?? {}) as { exitCode?: number | null; signal?: string; error?: string };
  if (!term.started || result.error) {
    const message = result.error ?? terminated ?? "the command did not start";
    if (!recorded) session.recordResult(decision.requestSeq, { error: message, ...(timedOut ? { timedOut: true } : {}) });
    return failed(terminated ? "terminated" : "upstream", terminated ? `the session was ended: ${terminated}` : maskedText(`the upstream refused the command: ${message}`, decision.masker), started);
  }
  return {
    exitCode: recorded ? (result.exitCode ?? null) : client.status.code,
    ...(result.signal ? { signal: result.signal } : {}),
    stdout: client.stdout.text(),
    stderr: client.stderr.text(),
    bytes: { stdout: client.stdout.total, stderr: client.stderr.total },
    truncated: client.truncated,
    timedOut,
    durationMs: Date.now() - started,
    maskedSpans: spans(decision.masker) - term.spansAtStart,
    ...(terminated && !timedOut ? { failure: { kind: "terminated" as const, message: `the session was ended: ${terminated}` } } : {}),
  };
}

/**
 * The session as TerminalChannel sees it: its one `decide` returns the decision already made
 * for exactly this command, `recordResult` goes through `record`; everything else is the session.
 */
function sessionView(session: GatewaySession, command: string, decided: Decision, record: (seq: number, result: Record<string, unknown>) => void): GatewaySession {
  let used = false;
  const decide: GatewaySession["decide"] = async (request, opts) => {
    if (used || request.text !== command) return session.decide(request, opts);
    used = true;
    return decided;
  };
  return new Proxy(session, {
    get(target, prop) {
      if (prop === "decide") return decide;
      if (prop === "recordResult") return record;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** The upstream client as TerminalChannel sees it, handing over the exec channel it opens. */
function capturingExec(upstream: UpstreamClient, onChannel: (c: ClientChannel) => void): UpstreamClient {
  const exec = (command: string, opts: object, cb: (err: Error | undefined, c: ClientChannel) => void) =>
    upstream.exec(command, opts, (err, c) => {
      if (!err) onChannel(c);
      cb(err, c);
    });
  return new Proxy(upstream, {
    get(target, prop) {
      if (prop === "exec") return exec;
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/**
 * A "signal" channel request (RFC 4254 §6.9; OpenSSH kills the command's process group).
 * ssh2's `channel.signal()` silently drops it once the channel sent EOF, which it has here
 * (stdin is closed at once), although the protocol allows requests until CLOSE: send it
 * through ssh2's protocol object, as the channel itself would.
 */
function sendSignal(upstream: UpstreamClient, channel: ClientChannel, name: string) {
  const protocol = (upstream as unknown as { _protocol?: { signal?(id: number, name: string): void } })._protocol;
  const out = (channel as unknown as { outgoing?: { id?: number; state?: string } }).outgoing;
  if (!protocol?.signal || typeof out?.id !== "number" || (out.state !== "open" && out.state !== "eof")) return;
  try {
    protocol.signal(out.id, name);
  } catch (err) {
    console.warn(`[mcp] run_ssh_command could not signal the upstream command: ${(err as Error).message}`);
  }
}

/**
 * Knows whether the channel got as far as running the command upstream, and how many masked
 * spans were counted before any output.
 */
class ExecRecorder extends TerminalRecorder {
  started = false;
  /** masked spans counted before any output: the request text and this command */
  spansAtStart = 0;

  constructor(
    recorder: ConstructorParameters<typeof TerminalRecorder>[0],
    private readonly decided: Masker | null,
  ) {
    super(recorder);
  }

  override start(ch: number, info: Parameters<TerminalRecorder["start"]>[1], masker: Masker | null = null) {
    this.started = true;
    this.spansAtStart = spans(this.decided); // TerminalChannel masked the command just before
    super.start(ch, info, masker);
  }
}

function failed(kind: "upstream" | "terminated", message: string, started: number): SshExecOutcome {
  return { exitCode: null, stdout: "", stderr: "", bytes: { stdout: 0, stderr: 0 }, truncated: false, timedOut: false, durationMs: Date.now() - started, maskedSpans: 0, failure: { kind, message } };
}

/**
 * What the agent may see of a connect failure: host-key and credential problems as they are
 * (they name no address), a network failure without its cause (host and port go to the
 * recording and the log only; an agent is not told where the upstream is).
 */
function publicUpstreamMessage(message: string): string {
  if (/^cannot reach the upstream host/.test(message)) {
    console.warn(`[mcp] run_ssh_command upstream failure: ${message}`);
    return "cannot reach the upstream host";
  }
  return message;
}

function spans(masker: Masker | null): number {
  return masker ? masker.counts().reduce((n, c) => n + c.matches, 0) : 0;
}

function maskedText(text: string, masker: Masker | null): string {
  return masker ? masker.maskText(text) : text;
}
