/**
 * Bounds the counts of the CSI sequences whose cost in xterm.js grows with the count, before a
 * recording or a remote host's output reaches an emulator (the server's keyframe pass, the live
 * view, the browser terminal). xterm.js loops once per unit of count: `CSI 2147483647 L` (insert
 * lines) took minutes of one synchronous parse, `a CSI 2147483647 b` (repeat) a minute and an
 * 8 GB array, and on the server that parse blocks the one thread every gateway listener runs on.
 *
 * The bounds change nothing on screen: inserting, deleting or scrolling more lines than the
 * screen has is the same as as many as it has, and a tab count saturates at the width. A repeat
 * longer than a screenful is the one exception: its characters still fill the screen, only the
 * cursor may end elsewhere.
 *
 * Stateful: a sequence split across writes is held until it is complete. A sequence longer than
 * MAX_SEQUENCE is dropped (fail closed: no real program sends one; xterm.js would still parse it).
 * Works on text and on bytes (raw output: invalid UTF-8 passes through untouched).
 */
export interface ScreenSize {
  cols: number;
  rows: number;
}

const MAX_SEQUENCE = 512;
/** Finals (no prefix, no intermediates) whose first parameter is a loop count, and what bounds it. */
const BOUNDS: Record<string, (s: ScreenSize) => number> = {
  L: (s) => s.rows, // IL
  M: (s) => s.rows, // DL
  S: (s) => s.rows, // SU
  T: (s) => s.rows, // SD
  I: (s) => s.cols, // CHT
  Z: (s) => s.cols, // CBT
  b: (s) => s.cols * s.rows, // REP
};

const ESC = 0x1b;

export class CountClamp {
  /** the unfinished sequence at the end of the last write */
  private carry = "";

  constructor(private readonly size: () => ScreenSize) {}

  text(data: string): string {
    return this.scan(this.carry + data, false);
  }

  bytes(data: Uint8Array): Uint8Array {
    const out = this.scan(this.carry + latin1(data), true);
    return Uint8Array.from(out, (c) => c.charCodeAt(0));
  }

  /**
   * Copies `input` to the output, rewriting the counts of complete CSI sequences. Like xterm.js's
   * parser: C0 controls inside a sequence are executed and do not end it, CAN/SUB abort it, ESC
   * starts another, DEL is ignored; anything else unexpected ends it. Treating more as a sequence
   * than xterm.js does is harmless (a count is only ever lowered); less would not be.
   */
  private scan(input: string, bytes: boolean): string {
    let out = "";
    let i = 0;
    this.carry = "";
    if (this.dropping) {
      // The rest of a too-long sequence: skip it to its end.
      const rest = sequenceAt(input, 0);
      if (rest.kind === "partial") return "";
      this.dropping = false;
      i = rest.end;
    }
    while (i < input.length) {
      const start = introducer(input, i, bytes);
      if (start === 0) {
        // Copy up to the next ESC (or C1 CSI) in one go.
        let j = i + 1;
        while (j < input.length && !mayIntroduce(input.charCodeAt(j), bytes)) j++;
        out += input.slice(i, j);
        i = j;
        continue;
      }
      const seq = start < 0 ? ({ kind: "partial" } as const) : sequenceAt(input, i + start);
      if (seq.kind === "partial") {
        // Held for the next write; one longer than any real sequence is dropped instead.
        if (input.length - i > MAX_SEQUENCE) this.dropping = true;
        else this.carry = input.slice(i);
        break;
      }
      if (seq.end - i <= MAX_SEQUENCE) {
        const raw = input.slice(i, seq.end);
        out += seq.kind === "complete" ? this.clamp(raw, input.slice(i + start, seq.end)) : raw;
      }
      i = seq.end;
    }
    return out;
  }

  /** inside a too-long sequence that is being skipped over several writes */
  private dropping = false;

  private clamp(raw: string, body: string): string {
    const final = body[body.length - 1];
    const bound = BOUNDS[final];
    if (!bound) return raw;
    const params = body.slice(0, -1).replace(/[\x00-\x1f\x7f]/g, "");
    if (!/^[0-9;:]*$/.test(params)) return raw; // a prefix or intermediates: another sequence
    const max = Math.max(1, Math.floor(bound(this.size())));
    // Rewritten whole: digits split by controls are one number to xterm.js ("2\n4" is 24), so
    // the controls go first (they run before the sequence is dispatched anyway).
    const controls = body.slice(0, -1).replace(/[^\x00-\x1f]/g, "");
    return controls + raw.slice(0, raw.length - body.length) + params.replace(/[0-9]+/g, (n) => (Number(n) > max ? String(max) : n)) + final;
  }
}

function mayIntroduce(c: number, bytes: boolean): boolean {
  return c === ESC || (bytes ? c === 0xc2 : c === 0x9b);
}

/** 0: no CSI introducer at i; n > 0: one of n chars; -1: perhaps one, cut at the end. */
function introducer(s: string, i: number, bytes: boolean): number {
  const c = s.charCodeAt(i);
  if (c === ESC) {
    if (i + 1 >= s.length) return -1;
    return s.charCodeAt(i + 1) === 0x5b ? 2 : 0;
  }
  if (!bytes) return c === 0x9b ? 1 : 0;
  // In bytes, C1 CSI reaches xterm.js as the UTF-8 of U+009B.
  if (c !== 0xc2) return 0;
  if (i + 1 >= s.length) return -1;
  return s.charCodeAt(i + 1) === 0x9b ? 2 : 0;
}

type Sequence = { kind: "complete" | "aborted"; end: number } | { kind: "partial" };

/** The CSI body starting at `from` (after the introducer): up to and including its final byte. */
function sequenceAt(s: string, from: number): Sequence {
  for (let j = from; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c >= 0x40 && c <= 0x7e) return { kind: "complete", end: j + 1 };
    if (c >= 0x20 && c <= 0x3f) continue; // parameters, private markers, intermediates
    if (c === 0x18 || c === 0x1a) return { kind: "aborted", end: j + 1 };
    if (c === ESC) return { kind: "aborted", end: j };
    if (c < 0x20 || c === 0x7f) continue; // executed (or ignored) inside the sequence
    return { kind: "aborted", end: j };
  }
  return { kind: "partial" };
}

function latin1(data: Uint8Array): string {
  let s = "";
  for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
  return s;
}

/**
 * A recorded or requested pty size as an emulator's: at most 500×300. A pty-req's size is the
 * client's to choose (up to 2³²), and an emulator allocates and clears every cell of it.
 */
export function clampScreenSize(cols: number, rows: number): ScreenSize {
  const bound = (v: number, max: number) => (Number.isFinite(v) ? Math.min(Math.max(1, Math.floor(v)), max) : max);
  return { cols: bound(cols, 500), rows: bound(rows, 300) };
}
