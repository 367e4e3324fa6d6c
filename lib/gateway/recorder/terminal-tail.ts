/**
 * What a live viewer joining mid-session must write into its terminal to show the current screen:
 * the output of one channel since the last full-screen reset, capped. Pure: events in, bytes out
 * (lib/gateway/recorder/TERMINAL.md describes the events).
 *
 * Resets are tracked per screen buffer, because a full-screen program (vim, less, top) draws on
 * the alternate screen and the shell's screen comes back when it exits:
 * - `ESC c` (RIS) resets everything and leaves the alternate screen;
 * - `ESC [ 2 J` clears the buffer in use;
 * - `ESC [ ? 1049 h` (and 1047, 47) switches to a fresh alternate screen.
 * While the alternate screen is up, the tail starts at the switch; if the primary screen's
 * history since its own reset still fits under the cap, the tail starts there instead, so the
 * viewer also has the right shell screen once the program exits. A tail that starts inside the
 * alternate screen (at a clear there, or cut by the cap) begins with a synthetic `ESC [ ? 1049 h`
 * so the viewer's terminal is on the same screen.
 */
export interface TerminalEventLike {
  seq: number;
  kind: string;
  payload: Record<string, unknown>;
}

export interface TermSize {
  cols: number;
  rows: number;
}

export interface TerminalTail {
  /** raw output bytes to write, in order */
  data: Buffer;
  /** pty size to set before writing `data` */
  startSize: TermSize;
  /** window changes inside `data`: set cols×rows before writing `data[at..]` */
  resizes: (TermSize & { at: number })[];
  /** pty size after the last event */
  size: TermSize;
  term: string | null;
  /** where `data` begins: a screen reset, the channel's first output, or a cut at the cap */
  from: "reset" | "start" | "cap";
  /** seq of the last event of this channel that was considered (0: none) */
  seq: number;
  exit: { code?: number; signal?: string } | null;
}

export const TAIL_MAX_BYTES = 1 << 20;
const DEFAULT_SIZE: TermSize = { cols: 80, rows: 24 };
const ESC = 0x1b;
const ALT_SCREEN_ON = Buffer.from("\x1b[?1049h");
const EMPTY = Buffer.alloc(0);

type Control = "ris" | "clear" | "alt-on" | "alt-off";

export function terminalTail(events: Iterable<TerminalEventLike>, ch: number, opts: { maxBytes?: number; initialSize?: TermSize } = {}): TerminalTail {
  const maxBytes = opts.maxBytes ?? TAIL_MAX_BYTES;
  const chunks: Buffer[] = [];
  let length = 0;
  const sizes: (TermSize & { at: number })[] = [{ at: 0, ...(opts.initialSize ?? DEFAULT_SIZE) }];
  let term: string | null = null;
  let startAt = 0;
  let seq = 0;
  let exit: TerminalTail["exit"] = null;
  for (const e of events) {
    if (e.payload.ch !== ch) continue;
    seq = Math.max(seq, e.seq);
    const p = e.payload;
    if (e.kind === "term.o") {
      const bytes = outputBytes(p);
      if (bytes?.length) {
        chunks.push(bytes);
        length += bytes.length;
      }
    } else if (e.kind === "term.r" || e.kind === "term.start") {
      const size = validSize(p);
      if (size) sizes.push({ at: length, ...size });
      if (e.kind === "term.start") {
        startAt = length;
        if (typeof p.term === "string") term = p.term;
      }
    } else if (e.kind === "term.exit") {
      exit = { ...(typeof p.code === "number" ? { code: p.code } : {}), ...(typeof p.signal === "string" ? { signal: p.signal } : {}) };
    }
  }
  const buf = Buffer.concat(chunks, length);

  let primary = startAt;
  let primaryIsReset = false;
  /** where the alternate screen was entered, and its latest clear (null: not on it) */
  let altOn: number | null = null;
  let alt = 0;
  for (const c of screenControls(buf, startAt)) {
    if (c.kind === "ris") {
      primary = c.at;
      primaryIsReset = true;
      altOn = null;
    } else if (c.kind === "clear") {
      if (altOn === null) {
        primary = c.at;
        primaryIsReset = true;
      } else alt = c.at;
    } else if (c.kind === "alt-on") {
      if (altOn === null) altOn = alt = c.at;
    } else altOn = null;
  }
  const onAlt = altOn !== null && length - primary > maxBytes;
  let begin = onAlt ? alt : primary;
  let from: TerminalTail["from"] = onAlt || primaryIsReset ? "reset" : "start";
  if (length - begin > maxBytes) {
    begin = safeCut(buf, length - maxBytes);
    from = "cap";
  }
  // Starting after the switch to the alternate screen: switch the viewer there first.
  const prefix = altOn !== null && begin > altOn ? ALT_SCREEN_ON : EMPTY;

  let startSize = sizes[0] as TermSize;
  const resizes: TerminalTail["resizes"] = [];
  for (const s of sizes) {
    if (s.at <= begin) startSize = s;
    else resizes.push({ at: s.at - begin + prefix.length, cols: s.cols, rows: s.rows });
  }
  const last = sizes[sizes.length - 1];
  return {
    data: prefix.length ? Buffer.concat([prefix, buf.subarray(begin)]) : buf.subarray(begin),
    startSize: { cols: startSize.cols, rows: startSize.rows },
    resizes,
    size: { cols: last.cols, rows: last.rows },
    term,
    from,
    seq,
    exit,
  };
}

/** The bytes of one `term.o` payload (`d` is text, `b64` a chunk that was not valid UTF-8). */
export function outputBytes(p: Record<string, unknown>): Buffer | null {
  if (typeof p.d === "string") return Buffer.from(p.d, "utf8");
  if (typeof p.b64 === "string") return Buffer.from(p.b64, "base64");
  return null;
}

function validSize(p: Record<string, unknown>): TermSize | null {
  const { cols, rows } = p;
  if (typeof cols !== "number" || typeof rows !== "number") return null;
  if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1 || cols > 1000 || rows > 1000) return null;
  return { cols, rows };
}

/**
 * The screen-resetting control sequences in `buf` from `from` on, with their start offsets.
 * Works on the concatenated stream, so a sequence split across two output events is found.
 */
export function* screenControls(buf: Uint8Array, from = 0): Generator<{ at: number; kind: Control }> {
  for (let i = buf.indexOf(ESC, from); i !== -1 && i < buf.length - 1; i = buf.indexOf(ESC, i + 1)) {
    const next = buf[i + 1];
    if (next === 0x63 /* c */) {
      yield { at: i, kind: "ris" };
      continue;
    }
    if (next !== 0x5b /* [ */) continue;
    // CSI: parameter bytes 0x30–0x3F, intermediates 0x20–0x2F, one final byte 0x40–0x7E.
    let j = i + 2;
    while (j < buf.length && buf[j] >= 0x30 && buf[j] <= 0x3f) j++;
    const params = Buffer.from(buf.subarray(i + 2, j)).toString("latin1");
    while (j < buf.length && buf[j] >= 0x20 && buf[j] <= 0x2f) j++;
    if (j >= buf.length) break; // incomplete at the end: nothing has happened yet
    const final = String.fromCharCode(buf[j]);
    if (final === "J" && params === "2") yield { at: i, kind: "clear" };
    else if ((final === "h" || final === "l") && params.startsWith("?")) {
      const modes = params.slice(1).split(";");
      if (modes.some((m) => m === "1049" || m === "1047" || m === "47")) yield { at: i, kind: final === "h" ? "alt-on" : "alt-off" };
    }
  }
}

/**
 * A start position at or after `from` that does not split a line, an escape sequence or a UTF-8
 * character when possible: the next line start within 64 KiB, else the next non-continuation byte.
 */
function safeCut(buf: Buffer, from: number): number {
  const nl = buf.indexOf(0x0a, from);
  if (nl !== -1 && nl - from < 65_536) return nl + 1;
  let i = from;
  while (i < buf.length && (buf[i] & 0xc0) === 0x80) i++;
  return i;
}
