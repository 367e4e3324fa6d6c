import { finalCloseReason } from "./close-codes";

/**
 * The client side of the browser terminal WebSocket, `/ws/terminal/:connection`
 * (lib/gateway/recorder/TERMINAL.md): binary frames carry keystrokes up and terminal output
 * down, text frames carry JSON control messages. After a network loss it reconnects with the
 * resume token and the count of output bytes it already has, for as long as the server keeps the
 * session (60 s); the server replays what was missed. No DOM and no xterm.js here, so it runs
 * (and is tested) in Node against a real WebSocket server.
 */
export type TerminalSocketState =
  | { phase: "connecting" }
  | { phase: "ready"; sessionId: string }
  | { phase: "held"; approvalId: string; url: string | null }
  | { phase: "reconnecting"; sessionId: string | null; deadline: number; attempt: number }
  | { phase: "exited"; code: number | null; reason: string }
  | { phase: "error"; message: string };

type ServerMessage =
  | { type: "ready"; sessionId: string; resumeToken: string }
  | { type: "held"; approvalId: number | string; url?: string }
  | { type: "error"; message: string }
  | { type: "exit"; code?: number | null; signal?: string; reason?: string }
  /** on resume: the server no longer had this much of the output that followed `offset` */
  | { type: "gap"; lostBytes: number };

/** The subset of the WebSocket API used here (the browser's, or `ws` in tests). */
export interface SocketLike {
  binaryType: string;
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number; reason?: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string | Uint8Array): void;
  close(code?: number, reason?: string): void;
}

export interface TerminalSocketOptions {
  /** e.g. ws://host/ws/terminal/NAME — the query is added here */
  url: string;
  size(): { cols: number; rows: number };
  onOutput(data: Uint8Array): void;
  onState(state: TerminalSocketState): void;
  /** output was lost while disconnected (more than the server keeps) */
  onGap?(lostBytes: number): void;
  createSocket?: (url: string) => SocketLike;
  /** how long the server keeps a dropped session (TERMINAL.md: 60 s) */
  graceMs?: number;
}

const CONNECTING = 0;
const OPEN = 1;
const encoder = new TextEncoder();

export class TerminalSocket {
  private ws: SocketLike | null = null;
  private resumeToken: string | null = null;
  private sessionId: string | null = null;
  /** output bytes received over every connection of this session: the resume offset */
  private received = 0;
  private lostAt: number | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private finished = false;
  private state: TerminalSocketState = { phase: "connecting" };

  constructor(private readonly opts: TerminalSocketOptions) {}

  get current() {
    return this.state;
  }

  get bytesReceived() {
    return this.received;
  }

  connect() {
    if (this.finished) return;
    const { cols, rows } = this.opts.size();
    const q = new URLSearchParams({ cols: String(cols), rows: String(rows) });
    if (this.resumeToken) {
      q.set("resume", this.resumeToken);
      q.set("offset", String(this.received));
    }
    const ws = (this.opts.createSocket ?? ((u) => new WebSocket(u) as unknown as SocketLike))(`${this.opts.url}?${q}`);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = (ev) => this.onMessage(ev.data);
    ws.onclose = (ev) => this.onClose(ws, ev?.code);
    ws.onerror = () => {}; // a close follows
  }

  /** Keystrokes and pasted text (xterm.js onData), sent as UTF-8. */
  sendText(text: string) {
    this.sendBytes(encoder.encode(text));
  }

  /** xterm.js onBinary: a string whose char codes are bytes (some mouse reports). */
  sendBinaryString(bin: string) {
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i) & 0xff;
    this.sendBytes(out);
  }

  resize(cols: number, rows: number) {
    if (this.ws?.readyState === OPEN) this.ws.send(JSON.stringify({ type: "resize", cols, rows }));
  }

  /**
   * The network is gone (the browser says offline): stop waiting for TCP to notice. Reconnecting
   * starts now: offline, the close handshake may not complete for a long while (the close event
   * came after the end-to-end test's 10 s once), and what the old socket still delivers is
   * dropped (the resume asks for it again from the bytes received).
   */
  interrupt() {
    const ws = this.ws;
    if (!ws || this.finished) return;
    ws.onmessage = null;
    ws.close(4000, "client offline");
    this.onClose(ws, 4000);
  }

  /** Reconnect now instead of at the next backoff step (the browser is back online). */
  retryNow() {
    if (this.state.phase !== "reconnecting" || this.ws) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.connect();
  }

  /** The user is done: end the remote shell now instead of after the grace period. */
  close() {
    this.finished = true;
    if (this.timer) clearTimeout(this.timer);
    const ws = this.ws;
    this.ws = null;
    if (!ws) return;
    ws.onmessage = null; // nothing more reaches the page
    // The server ends the shell only when told; a bare close reads as a network loss and keeps
    // the shell for the grace period. A connection still opening (closed mid-reconnect) is told
    // once it is open.
    const bye = () => {
      ws.send(JSON.stringify({ type: "close" }));
      ws.close(1000, "closed by the user");
    };
    if (ws.readyState === OPEN) bye();
    else if (ws.readyState === CONNECTING) ws.onopen = bye;
    else ws.close(1000, "closed by the user");
  }

  private sendBytes(bytes: Uint8Array) {
    // Input typed while the connection is down is dropped rather than replayed later into
    // whatever the remote shell is doing by then.
    if (this.ws?.readyState === OPEN && (this.state.phase === "ready" || this.state.phase === "held")) this.ws.send(bytes);
  }

  private onMessage(data: unknown) {
    if (typeof data !== "string") {
      const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : null;
      if (!bytes) return;
      this.received += bytes.length;
      if (this.state.phase === "held" && this.sessionId) this.set({ phase: "ready", sessionId: this.sessionId });
      this.opts.onOutput(bytes);
      return;
    }
    let msg: ServerMessage;
    try {
      msg = JSON.parse(data);
    } catch {
      return;
    }
    if (msg.type === "ready") {
      this.resumeToken = msg.resumeToken ?? this.resumeToken;
      this.sessionId = msg.sessionId;
      this.lostAt = null;
      this.attempt = 0;
      this.set({ phase: "ready", sessionId: msg.sessionId });
    } else if (msg.type === "held") {
      this.set({ phase: "held", approvalId: String(msg.approvalId), url: safeUrl(msg.url) });
    } else if (msg.type === "gap") {
      // Count the lost bytes as received: the next resume offset must match the server's count.
      const lost = Number(msg.lostBytes) || 0;
      this.received += lost;
      this.opts.onGap?.(lost);
    } else if (msg.type === "exit") {
      const reason = msg.reason ?? (msg.signal ? `the shell was ended by signal ${msg.signal}` : "the shell exited");
      this.finish({ phase: "exited", code: typeof msg.code === "number" ? msg.code : null, reason });
    } else if (msg.type === "error") {
      this.finish({ phase: "error", message: msg.message || "the terminal failed" });
    }
  }

  private onClose(ws: SocketLike, code?: number) {
    if (this.ws !== ws) return;
    this.ws = null;
    if (this.finished) return;
    // Closed on purpose by the server (not a network loss): there is nothing to resume.
    const final = finalCloseReason(code, "terminal");
    if (final) {
      this.finish(code === 1000 ? { phase: "exited", code: null, reason: final } : { phase: "error", message: final });
      return;
    }
    if (!this.resumeToken) {
      // Never got a session (refused at the upgrade, or the server is unreachable): nothing to resume.
      this.finish({ phase: "error", message: "could not open the terminal (refused or unreachable)" });
      return;
    }
    const grace = this.opts.graceMs ?? 60_000;
    this.lostAt ??= Date.now();
    const deadline = this.lostAt + grace;
    if (Date.now() >= deadline) {
      this.finish({ phase: "error", message: "the connection was lost for too long; the session has ended" });
      return;
    }
    this.set({ phase: "reconnecting", sessionId: this.sessionId, deadline, attempt: ++this.attempt });
    const delay = Math.min(250 * 2 ** (this.attempt - 1), 4_000, Math.max(0, deadline - Date.now()));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delay);
  }

  private finish(state: TerminalSocketState) {
    this.finished = true;
    this.set(state);
    if (this.ws && this.ws.readyState === OPEN) this.ws.close(1000);
    this.ws = null;
  }

  private set(state: TerminalSocketState) {
    this.state = state;
    this.opts.onState(state);
  }
}

/** Only http(s) approval links are shown as links: the URL comes from the server, but never trust a javascript: URL. */
function safeUrl(url: unknown): string | null {
  if (typeof url !== "string") return null;
  try {
    const u = new URL(url, typeof location === "undefined" ? "http://localhost" : location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.toString() : null;
  } catch {
    return null;
  }
}
