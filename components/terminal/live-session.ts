import { loadStored, SeqFollower, type SessionEventMessage } from "./seq-follower";

/**
 * Follows one terminal channel of a session for a viewer (lib/gateway/recorder/TERMINAL.md,
 * "Live view"). Order matters so that nothing is lost or shown twice:
 * 1. subscribe to /ws/sessions/:id first, buffering what arrives;
 * 2. fetch the tail (current screen up to seq S) and write it;
 * 3. apply buffered and live events with seq > S, filling holes from the stored events;
 * 4. for a session recorded by another Gatehouse process, the socket says "watching" once that
 *    process sends this one its events: load the stored events after the last applied one then
 *    (the ones recorded before went only to the database).
 * Not React: the component gives it a sink (an xterm.js terminal) and renders its state.
 */
export interface TermSize {
  cols: number;
  rows: number;
}

export interface TerminalTailResponse {
  ch: number;
  seq: number;
  data: string;
  bytes: number;
  from: "reset" | "start" | "cap";
  startSize: TermSize;
  resizes: (TermSize & { at: number })[];
  size: TermSize;
  term: string | null;
  exit: { code?: number; signal?: string } | null;
  session: { status: string; startedAt: string; endedAt: string | null; endReason: string | null };
  serverTime: number;
}

export interface LiveViewState {
  phase: "loading" | "live" | "ended" | "error";
  /** the live socket is open */
  connected: boolean;
  /** ms from an event being recorded to it being on this screen (last live event) */
  delayMs: number | null;
  size: TermSize | null;
  status: string | null;
  endReason: string | null;
  channelExit: { code?: number; signal?: string } | null;
  /** some output could not be loaded and was skipped */
  gap: boolean;
  /** the tail was cut at 1 MiB, so the screen may be incomplete until the next redraw */
  capped: boolean;
  error: string | null;
  lastSeq: number;
}

export interface TerminalSink {
  /** queue output; `onParsed` runs once it is on the terminal */
  write(data: string | Uint8Array, onParsed?: () => void): void;
  /** resize after everything written so far */
  resize(cols: number, rows: number): void;
}

const EVENTS_PAGE = 1000;

export class LiveSessionView {
  private readonly follower: SeqFollower;
  private ws: WebSocket | null = null;
  private stopped = false;
  private filling = false;
  private catchUpAfterStart = false;
  private skewMs = 0;
  private startedAtMs = 0;
  private reconnectDelay = 250;
  private state: LiveViewState = { phase: "loading", connected: false, delayMs: null, size: null, status: null, endReason: null, channelExit: null, gap: false, capped: false, error: null, lastSeq: 0 };

  constructor(
    private readonly opts: {
      sessionId: string;
      ch: number;
      sink: TerminalSink;
      onState: (s: LiveViewState) => void;
      fetchJson?: <T>(path: string) => Promise<T>;
    },
  ) {
    this.follower = new SeqFollower((e, live) => this.apply(e, live));
  }

  async start() {
    this.openSocket();
    let tail: TerminalTailResponse;
    const asked = Date.now();
    try {
      tail = await this.fetchJson<TerminalTailResponse>(`/api/v1/sessions/${this.opts.sessionId}/terminal?ch=${this.opts.ch}`);
    } catch (err) {
      this.set({ phase: "error", error: (err as Error).message });
      this.stop();
      return;
    }
    if (this.stopped) return;
    // Clock offset to the server, NTP-style; within half the round trip the clocks may well agree.
    const answered = Date.now();
    const offset = (asked + answered) / 2 - tail.serverTime;
    this.skewMs = Math.abs(offset) <= (answered - asked) / 2 ? 0 : offset;
    this.startedAtMs = Date.parse(tail.session.startedAt);
    this.writeTail(tail);
    this.set({ size: tail.size, status: tail.session.status, endReason: tail.session.endReason, channelExit: tail.exit, capped: tail.from === "cap", lastSeq: tail.seq });
    this.follower.start(tail.seq);
    if (this.catchUpAfterStart) void this.catchUp();
    if (tail.session.status !== "live") await this.ended(tail.session.status, tail.session.endReason);
    else {
      this.set({ phase: "live" });
      void this.fill();
    }
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
    this.ws = null;
  }

  private writeTail(tail: TerminalTailResponse) {
    const bytes = base64ToBytes(tail.data);
    const { sink } = this.opts;
    sink.resize(tail.startSize.cols, tail.startSize.rows);
    let pos = 0;
    for (const r of tail.resizes) {
      if (r.at > pos) sink.write(bytes.subarray(pos, r.at));
      sink.resize(r.cols, r.rows);
      pos = Math.max(pos, r.at);
    }
    if (pos < bytes.length) sink.write(bytes.subarray(pos));
  }

  private openSocket() {
    if (this.stopped) return;
    const ws = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/sessions/${this.opts.sessionId}`);
    this.ws = ws;
    ws.onopen = () => {
      this.reconnectDelay = 250;
      this.set({ connected: true });
      // Events published while the socket was down are only in the database now.
      if (this.follower.started) void this.catchUp();
    };
    ws.onmessage = (m) => {
      let msg: SessionEventMessage | { kind: "session-ended"; status: string } | { kind: "watching" };
      try {
        msg = JSON.parse(String(m.data));
      } catch {
        return;
      }
      if (msg.kind === "session-ended") void this.ended((msg as { status: string }).status, null);
      else if (msg.kind === "watching") {
        // Recorded by another process: what it recorded before it knew of this viewer is stored now.
        if (this.follower.started) void this.catchUp();
        else this.catchUpAfterStart = true;
      } else {
        this.follower.live(msg as SessionEventMessage);
        if (this.follower.missingAfter !== null) void this.fill();
      }
    };
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.set({ connected: false });
      if (this.stopped || this.state.phase === "ended" || this.state.phase === "error") return;
      setTimeout(() => this.openSocket(), this.reconnectDelay);
      this.reconnectDelay = Math.min(this.reconnectDelay * 2, 5_000);
    };
  }

  private apply(e: SessionEventMessage, live: boolean) {
    const p = e.payload ?? {};
    if (e.kind === "end") void this.ended(typeof p.status === "string" ? p.status : "ended", typeof p.reason === "string" ? p.reason : null);
    if (p.ch !== this.opts.ch) return;
    const { sink } = this.opts;
    if (e.kind === "term.o") {
      const data = typeof p.d === "string" ? p.d : typeof p.b64 === "string" ? base64ToBytes(p.b64) : null;
      if (data !== null) sink.write(data, live ? () => this.measure(e) : undefined);
      this.set({ lastSeq: e.seq });
    } else if ((e.kind === "term.r" || e.kind === "term.start") && typeof p.cols === "number" && typeof p.rows === "number") {
      sink.resize(p.cols, p.rows);
      this.set({ size: { cols: p.cols, rows: p.rows } });
    } else if (e.kind === "term.exit") {
      this.set({ channelExit: { ...(typeof p.code === "number" ? { code: p.code } : {}), ...(typeof p.signal === "string" ? { signal: p.signal } : {}) } });
    }
  }

  private measure(e: SessionEventMessage) {
    if (!this.startedAtMs) return;
    this.set({ delayMs: Math.max(0, Math.round(Date.now() - this.skewMs - (this.startedAtMs + e.tMs))) });
  }

  /** Fetches stored events while the follower is missing some; gives up on a hole after ~3 s. */
  private async fill() {
    if (this.filling) return;
    this.filling = true;
    try {
      await loadStored(this.follower, (after) => this.events(after), { pageSize: EVENTS_PAGE, stopped: () => this.stopped, onSkip: () => this.set({ gap: true }) });
    } catch {
      if (!this.stopped) setTimeout(() => void this.fill(), 1_000);
    } finally {
      this.filling = false;
    }
  }

  /** Applies every stored event after the last applied one (after a reconnect, or at the end). */
  private async catchUp() {
    for (;;) {
      const page = await this.events(this.follower.applied).catch(() => [] as SessionEventMessage[]);
      this.follower.stored(page);
      if (page.length < EVENTS_PAGE || this.stopped) break;
    }
  }

  private async ended(status: string, reason: string | null) {
    if (this.state.phase === "ended") return;
    this.set({ phase: "ended", status, ...(reason ? { endReason: reason } : {}) });
    // The recorder flushes when the session ends: the database now has everything.
    await this.catchUp();
    this.follower.skipMissing();
    this.ws?.close();
    this.ws = null;
  }

  private async events(after: number) {
    return (await this.fetchJson<{ events: SessionEventMessage[] }>(`/api/v1/sessions/${this.opts.sessionId}/events?after=${after}&limit=${EVENTS_PAGE}`)).events;
  }

  private fetchJson<T>(path: string): Promise<T> {
    if (this.opts.fetchJson) return this.opts.fetchJson<T>(path);
    return fetch(path, { credentials: "same-origin" }).then(async (res) => {
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(body?.error?.message ?? res.statusText);
      return body as T;
    });
  }

  private set(patch: Partial<LiveViewState>) {
    this.state = { ...this.state, ...patch };
    this.opts.onState(this.state);
  }
}

export function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
