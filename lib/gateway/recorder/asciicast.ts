/**
 * asciicast v2 from session events (TERMINAL.md): one cast per terminal channel, derived from the
 * `session_events` rows — there is no second recording format. Pure: no I/O, no Node-only APIs,
 * so the export route, the replay windows and the tests share exactly this conversion.
 */
import { terminalSafeJson } from "@/lib/util/terminal-safe-json";
import { InertTerminalOutput } from "./inert-output";

export interface TerminalEventRow {
  seq: number;
  tMs: number;
  kind: string;
  payload: Record<string, unknown>;
}

export type CastCode = "o" | "i" | "r" | "m";
/** A cast event with its time in integer milliseconds since the channel's `term.start`. */
export type CastEventMs = [tMs: number, code: CastCode, data: string];

export interface CastHeader {
  version: 2;
  width: number;
  height: number;
  timestamp: number;
  title: string;
  env: { TERM: string };
  command?: string;
}

export interface CastSessionInfo {
  userEmail: string;
  connectionName: string;
  startedAt: Date | string;
}

export interface TerminalStart {
  ch: number;
  mode: string;
  cols: number;
  rows: number;
  term: string;
  command?: string;
  /** the `term.start` event's own time and seq in the session */
  tMs: number;
  seq: number;
}

const TERMINAL_KINDS = new Set(["term.o", "term.i", "term.r"]);

function channelOf(payload: Record<string, unknown>): number | null {
  return typeof payload.ch === "number" ? payload.ch : null;
}

function positiveInt(v: unknown, fallback: number): number {
  return typeof v === "number" && Number.isInteger(v) && v > 0 && v < 10_000 ? v : fallback;
}

/** A `term.start` row as a channel description, or null when the row is not one (or not channel `ch`). */
export function terminalStartOf(row: TerminalEventRow, ch?: number): TerminalStart | null {
  if (row.kind !== "term.start") return null;
  const c = channelOf(row.payload);
  if (c === null || (ch !== undefined && c !== ch)) return null;
  const p = row.payload;
  return {
    ch: c,
    mode: typeof p.mode === "string" ? p.mode : "shell",
    // 80×24 when the client asked for no pty (TERMINAL.md); bounded so a hostile row cannot
    // make a viewer allocate a gigantic screen.
    cols: positiveInt(p.cols, 80),
    rows: positiveInt(p.rows, 24),
    term: typeof p.term === "string" && p.term ? p.term : "xterm",
    ...(typeof p.command === "string" ? { command: p.command } : {}),
    tMs: row.tMs,
    seq: row.seq,
  };
}

export function castHeader(session: CastSessionInfo, start: TerminalStart): CastHeader {
  return {
    version: 2,
    width: start.cols,
    height: start.rows,
    timestamp: Math.floor(new Date(session.startedAt).getTime() / 1000),
    title: `${session.userEmail} → ${session.connectionName}`,
    env: { TERM: start.term },
    ...(start.command !== undefined ? { command: start.command } : {}),
  };
}

function base64Bytes(b64: string): Uint8Array {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * Turns `d`/`b64` chunks back into text. `b64` carries chunks that were not valid UTF-8 on their
 * own — usually a multi-byte character split across two chunks — so bytes are decoded as one
 * stream per direction, and a character split across chunks comes out whole.
 */
export class TerminalTextDecoder {
  private decoder = new TextDecoder("utf-8");
  private pending = false;

  decode(payload: Record<string, unknown>): string {
    if (typeof payload.b64 === "string") {
      let bytes: Uint8Array;
      try {
        bytes = base64Bytes(payload.b64);
      } catch {
        return "";
      }
      this.pending = true;
      return this.decoder.decode(bytes, { stream: true });
    }
    const text = typeof payload.d === "string" ? payload.d : "";
    // Text after an unfinished byte sequence: that sequence is broken, not continued.
    return this.flush() + text;
  }

  flush(): string {
    if (!this.pending) return "";
    this.pending = false;
    return this.decoder.decode();
  }
}

export interface ChannelOptions {
  /** `m` markers for `term.cmd` and for held or denied requests (export: yes; replay windows: no) */
  markers?: boolean;
}

/**
 * One channel's view of the session's events: converts each row (in seq order) into that
 * channel's cast events. Times are clamped to never go backwards (the recorder's clock is wall
 * time) and are relative to the channel's `term.start`.
 */
export class TerminalChannel {
  private out = new TerminalTextDecoder();
  private in = new TerminalTextDecoder();
  private lastT = 0;
  private exited = false;
  /** request seq → its text, for labelling a later held/denied verdict; bounded */
  private requests = new Map<number, string>();

  constructor(
    readonly start: TerminalStart,
    private readonly opts: ChannelOptions = {},
  ) {}

  get ended() {
    return this.exited;
  }

  private time(row: TerminalEventRow): number {
    this.lastT = Math.max(this.lastT, row.tMs - this.start.tMs);
    return this.lastT;
  }

  convert(row: TerminalEventRow): CastEventMs[] {
    if (row.seq <= this.start.seq) return [];
    const ch = channelOf(row.payload);
    if (TERMINAL_KINDS.has(row.kind)) {
      if (ch !== this.start.ch || this.exited) return [];
      const t = this.time(row);
      if (row.kind === "term.r") {
        const cols = positiveInt(row.payload.cols, 0);
        const rows = positiveInt(row.payload.rows, 0);
        return cols && rows ? [[t, "r", `${cols}x${rows}`]] : [];
      }
      const text = (row.kind === "term.o" ? this.out : this.in).decode(row.payload);
      return text ? [[t, row.kind === "term.o" ? "o" : "i", text]] : [];
    }
    if (row.kind === "term.exit" && ch === this.start.ch) {
      this.exited = true;
      const rest = this.out.flush();
      return rest ? [[this.time(row), "o", rest]] : [];
    }
    if (!this.opts.markers || this.exited) return [];
    if (row.kind === "term.cmd" && ch === this.start.ch && typeof row.payload.text === "string") {
      return [[this.time(row), "m", row.payload.text]];
    }
    // Pipeline events carry no channel unless the adapter adds one; those without belong to
    // whichever channel is open at the time.
    if (ch !== null && ch !== this.start.ch) return [];
    if (row.kind === "request" && typeof row.payload.text === "string") {
      this.requests.set(row.seq, row.payload.text);
      if (this.requests.size > 1000) this.requests.delete(this.requests.keys().next().value!);
      return row.payload.verdict === "deny" ? [[this.time(row), "m", `denied: ${row.payload.text}`]] : [];
    }
    const label = markerLabel(row, this.requests);
    return label === null ? [] : [[this.time(row), "m", label]];
  }
}

function markerLabel(row: TerminalEventRow, requests: Map<number, string>): string | null {
  const ref = typeof row.payload.requestSeq === "number" ? row.payload.requestSeq : null;
  if (ref === null) return null;
  const text = requests.get(ref) ?? `request #${ref}`;
  if (row.kind === "held") return `held: ${text}`;
  // recordings made before requests carried their verdict
  if (row.kind === "verdict" && row.payload.verdict === "deny") return `denied: ${text}`;
  return null;
}

/**
 * `[t, code, data]` with t in seconds, as asciicast v2 writes it. U+2028/U+2029, C1 controls and
 * invisible characters are escaped too (terminal-safe-json.ts): a cast is often printed to a
 * terminal (`sessions export` to stdout), where a raw U+009B in a host's output is a CSI.
 */
export function castLine([tMs, code, data]: CastEventMs): string {
  return terminalSafeJson(JSON.stringify([tMs / 1000, code, data]));
}

/**
 * Streams a cast: pages of a session's events (in seq order) in, asciicast v2 lines out
 * (each ending in "\n"). The channel is `ch`, or the first `term.start` when omitted. Nothing is
 * yielded before the channel's `term.start`; a stream without one yields nothing (callers check
 * that the channel exists before they start a response).
 *
 * Output is made inert for a viewer's terminal (inert-output.ts) unless `raw`: a cast is made to
 * be played in one, where a recorded host's queries and clipboard writes would act.
 */
export async function* encodeAsciicast(pages: AsyncIterable<readonly TerminalEventRow[]>, session: CastSessionInfo, opts: { ch?: number; raw?: boolean } = {}): AsyncGenerator<string> {
  let channel: TerminalChannel | null = null;
  const inert = opts.raw ? null : new InertTerminalOutput();
  for await (const page of pages) {
    let lines = "";
    for (const row of page) {
      if (!channel) {
        const start = terminalStartOf(row, opts.ch);
        if (!start) continue;
        channel = new TerminalChannel(start, { markers: true });
        lines += terminalSafeJson(JSON.stringify(castHeader(session, start))) + "\n";
        continue;
      }
      for (const e of channel.convert(row)) {
        if (inert && e[1] === "o") e[2] = inert.write(e[2]);
        if (e[2] || e[1] !== "o") lines += castLine(e) + "\n";
      }
    }
    if (lines) yield lines;
    if (channel?.ended) return;
  }
}
