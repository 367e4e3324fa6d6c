import { randomBytes } from "node:crypto";
import type { Client as UpstreamClient } from "ssh2";
import type { Db } from "@/db/client";
import { GatewaySession } from "@/lib/gateway/core/session";
import type { ConnectionRef, Principal } from "@/lib/gateway/core/types";
import { loadUpstream } from "@/lib/gateway/core/upstream";
import { TerminalRecorder } from "@/lib/gateway/recorder/terminal";
import { TerminalChannel, type ClientSide } from "./terminal-channel";
import { connectUpstream } from "./upstream";

/**
 * The browser SSH terminal, server side. It is a client of the same path as `ssh`: a
 * GatewaySession (origin web-console) decides `connect` and the shell, TerminalChannel relays
 * with masking and recording, and kills/revocations end it the same way.
 *
 * The browser's WebSocket is only attached: after a network loss the SSH session waits
 * GRACE_MS for the same user to come back with the resume token, and replays the output the
 * browser missed from a RING_BYTES buffer (by byte offset), so a flaky Wi-Fi does not kill a
 * long-running command.
 */
const GRACE_MS = Number(process.env.GATEHOUSE_TERMINAL_GRACE_MS ?? 60_000);
const RING_BYTES = 1 << 20;
const HIGH_WATER = 1 << 20;
/** input typed before the shell exists (connecting, held): kept and delivered when it starts */
const TYPE_AHEAD_BYTES = 64 * 1024;

export interface TerminalSocket {
  send(data: Buffer | string): void;
  close(code: number, reason: string): void;
  readonly bufferedAmount: number;
}

type Json = Record<string, unknown>;

export class BrowserTerminal {
  readonly resumeToken = randomBytes(24).toString("base64url");
  private socket: TerminalSocket | null = null;
  private ring: Buffer[] = [];
  private ringBytes = 0;
  /** total output bytes produced; the browser acknowledges what it has by this offset */
  private produced = 0;
  private graceTimer: NodeJS.Timeout | null = null;
  private finished = false;
  private dataHandler: ((d: Buffer) => void) | null = null;
  private typeAhead: Buffer[] = [];
  private typeAheadBytes = 0;
  private closeHandlers: (() => void)[] = [];
  private drainHandlers: (() => void)[] = [];
  private drainTimer: NodeJS.Timeout | null = null;
  private channel: TerminalChannel | null = null;
  sessionId: string | null = null;

  constructor(private size: { cols: number; rows: number }) {}

  /** Opens the session and the shell; resolves when the shell ended or was refused. */
  async run(db: Db, principal: Principal, connectionName: string, address: string): Promise<void> {
    const target = await loadUpstream(db, connectionName);
    if (!target || target.ref.type !== "ssh") return this.fail(`no ssh connection named "${connectionName}"`);
    let gw: GatewaySession;
    try {
      gw = await GatewaySession.open(db, { principal, connection: target.ref as ConnectionRef, client: { address, protocol: "ssh", origin: "web-console" }, applicationName: "browser terminal" }, { onHeld: (n) => this.json({ type: "held", approvalId: n.approvalId, url: n.url }) });
    } catch (err) {
      return this.fail((err as Error).message);
    }
    this.sessionId = gw.id;
    this.json({ type: "ready", sessionId: gw.id, resumeToken: this.resumeToken });
    let upstream: UpstreamClient;
    try {
      upstream = await connectUpstream(db, target);
    } catch (err) {
      await gw.end("failed", (err as Error).message);
      return this.fail((err as Error).message);
    }
    const term = new TerminalRecorder(gw.recorder);
    const pty = { term: "xterm-256color", cols: this.size.cols, rows: this.size.rows, width: 0, height: 0 };
    const channel = new TerminalChannel({ gw, upstream, client: this.clientSide(), term, ch: 0, mode: "shell", pty, env: { LANG: "C.UTF-8" } });
    this.channel = channel;
    gw.onTerminate((reason) => channel.terminate(reason));
    const done = new Promise<void>((resolve) => this.closeHandlers.push(resolve));
    await channel.run();
    await done;
    term.flushAll();
    upstream.end();
    if (!gw.isEnded) await gw.end("ended");
  }

  resize(cols: number, rows: number) {
    this.size = { cols, rows };
    this.channel?.resize(cols, rows);
  }

  input(data: Buffer) {
    if (this.dataHandler) return this.dataHandler(data);
    if (this.typeAheadBytes + data.length > TYPE_AHEAD_BYTES) return; // a paste into a terminal that never started
    this.typeAhead.push(data);
    this.typeAheadBytes += data.length;
  }

  /** Attach a (re)connected browser; replays output after `offset` when resuming. */
  attach(socket: TerminalSocket, offset: number | null) {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = null;
    this.socket = socket;
    if (offset !== null) {
      const start = this.produced - this.ringBytes;
      const from = Math.max(offset, start);
      if (offset < start) socket.send(JSON.stringify({ type: "gap", lostBytes: start - offset }));
      if (from < this.produced) socket.send(Buffer.concat(this.ring).subarray(from - start));
      if (this.sessionId) socket.send(JSON.stringify({ type: "ready", sessionId: this.sessionId, resumeToken: this.resumeToken, resumed: true }));
    }
  }

  /** The browser went away without ending the shell: keep it for the grace period. */
  detach(socket: TerminalSocket) {
    if (this.socket !== socket || this.finished) return;
    this.socket = null;
    this.graceTimer = setTimeout(() => this.finish(), GRACE_MS);
  }

  /** The user closed the terminal on purpose. */
  hangUp() {
    this.finish();
  }

  get isFinished() {
    return this.finished;
  }

  private fail(message: string) {
    this.json({ type: "error", message });
    this.finish();
  }

  private finish() {
    if (this.finished) return;
    this.finished = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.drainTimer) clearInterval(this.drainTimer);
    for (const fn of this.closeHandlers.splice(0)) fn();
    this.socket?.close(1000, "terminal closed");
    this.socket = null;
  }

  private json(msg: Json) {
    this.socket?.send(JSON.stringify(msg));
  }

  private output(data: Buffer): boolean {
    this.ring.push(data);
    this.ringBytes += data.length;
    this.produced += data.length;
    while (this.ringBytes - this.ring[0].length >= RING_BYTES) this.ringBytes -= this.ring.shift()!.length;
    if (!this.socket) return false; // detached: hold the upstream until the browser is back (or grace ends)
    this.socket.send(data);
    return this.socket.bufferedAmount < HIGH_WATER;
  }

  private clientSide(): ClientSide {
    return {
      write: (d) => {
        const ok = this.output(d);
        if (!ok) this.watchDrain();
        return ok;
      },
      writeStderr: (d) => void this.output(d),
      onData: (fn) => {
        this.dataHandler = fn;
        for (const d of this.typeAhead.splice(0)) fn(d);
        this.typeAheadBytes = 0;
      },
      onEof: () => {},
      onClose: (fn) => this.closeHandlers.push(fn),
      onDrain: (fn) => this.drainHandlers.push(fn),
      pause: () => {},
      resume: () => {},
      exit: ({ code, signal }) => this.json({ type: "exit", code, ...(signal ? { signal } : {}) }),
      end: () => this.finish(),
    };
  }

  private watchDrain() {
    this.drainTimer ??= setInterval(() => {
      if (this.finished) return;
      if (this.socket && this.socket.bufferedAmount < HIGH_WATER / 2) {
        clearInterval(this.drainTimer!);
        this.drainTimer = null;
        for (const fn of this.drainHandlers) fn();
      }
    }, 20);
  }
}
