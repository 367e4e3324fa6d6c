/**
 * Gatehouse's own credentials never go into a recording, whatever the masking rules say: a token
 * (a compact JWS: Gatehouse tokens, tickets, and any other JWT) or a console secret
 * (`gatehouse-console:` + 43 characters) typed, pasted or printed inside a session would otherwise
 * be stored verbatim, for every auditor to read and use. The client's own terminal is not
 * touched (it is their credential); only what is recorded (and shown to other viewers) is.
 * (A console secret is never shown to anyone: the console's server side logs in with it. It is
 * scrubbed from events as JSON only, not searched for in the terminal byte stream, where looking
 * for its "…e:" cost more than the rest of the scrubbing together.)
 *
 * A credential is replaced by a placeholder of the same length, so byte counts and offsets in the
 * recording (replay windows, asciicast timing) stay what they were. Terminal output and input are
 * scrubbed as streams (`scrubBytes` / `scrubText` with a hold): a credential split across two
 * writes is held back until it is complete; escape sequences a line editor puts inside it
 * (cursor moves, readline's " \r" at the wrap) do not break it. Every other recorded event is
 * scrubbed as its serialized JSON (`scrubJson`), where a credential's characters appear as is.
 */
/**
 * A credential: a compact JWS (`eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}`,
 * found by jwsStart) or a console secret.
 *
 * A JWS match runs on to the end of its run of token characters: a token's signature segment is
 * greedy, so a second token written right behind a first (or behind "e", or behind an escape
 * sequence between them) lost only its header to the first match, and its payload and signature
 * (the header being the same in every Gatehouse token) stayed in the recording.
 */
const CONSOLE = /gatehouse-console:[A-Za-z0-9_-]{43}/g;
const STARTS = ["eyJ"];
/**
 * A candidate longer than this is not held back, nor looked at as one piece: a longer run of
 * token characters is searched a window of this many at a time, each window overlapping the last
 * by OVERLAP (no credential is that long).
 */
export const MAX_HOLD = 8 * 1024;
const OVERLAP = MAX_HOLD / 2;
const STAR = "*".charCodeAt(0);
const LABEL = "[REDACTED gatehouse credential";

/** `n` characters that say what was there, and cannot be a credential themselves. */
export function placeholder(n: number): string {
  if (n < LABEL.length + 2) return "*".repeat(n);
  return `${LABEL}${"*".repeat(n - LABEL.length - 1)}]`;
}

/** The serialized payload with every credential replaced (characters JSON never escapes). */
export function scrubJson(json: string): string {
  const jws = json.includes("eyJ");
  if (!jws && !json.includes("gatehouse-console:")) return json;
  const out = json.replace(CONSOLE, (m) => placeholder(m.length));
  return jws ? scrubJwsRuns(out) : out;
}

/** In each run of token characters holding a JWS: from where it starts to the run's end. */
function scrubJwsRuns(s: string): string {
  let out = "";
  let done = 0;
  for (const [from, to] of jwsRuns(s)) {
    out += s.slice(done, from) + placeholder(to - from);
    done = to;
  }
  return done ? out + s.slice(done) : s;
}

/** [start, end) of each JWS in `s`, run on to the end of its run of token characters. One pass. */
function* jwsRuns(s: string): Generator<[number, number]> {
  const cred = (i: number) => CRED[s.charCodeAt(i)] === 1; // (a code above 255 reads as undefined)
  let done = 0;
  for (let i = s.indexOf("eyJ"); i >= 0; ) {
    let start = i;
    while (start > done && cred(start - 1)) start--;
    let end = i + 3;
    while (end < s.length && cred(end)) end++;
    const m = jwsStart(end - start, (k) => s.charCodeAt(start + k));
    if (m >= 0) {
      yield [start + m, end];
      done = end;
    }
    i = s.indexOf("eyJ", end);
  }
}

/** Where credentials are in `text`: [start, end) character offsets, in order. */
export function credentialSpans(text: string): [number, number][] {
  const consoles = [...text.matchAll(CONSOLE)].map((m): [number, number] => [m.index, m.index + m[0].length]);
  return [...jwsRuns(text), ...consoles].sort((a, b) => a[0] - b[0]);
}

/**
 * A JSON-shaped value (an approval request's text, parameters, reason) with every credential in
 * its strings replaced, as scrubJson does for a recorded event. What is stored from a held
 * statement is read by approvers, auditors, the webhook and the CLI: a token written into it
 * (`select '<token>'`, `curl -H "Authorization: Bearer <token>"`) would be handed to all of them.
 */
export function scrubValue<T>(value: T): T {
  const json = JSON.stringify(value);
  if (json === undefined) return value;
  const scrubbed = scrubJson(json);
  return scrubbed === json ? value : (JSON.parse(scrubbed) as T);
}

const CRED = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-.") CRED[c.charCodeAt(0)] = 1;
const ESC = 0x1b;
const PREFIX_CHAR = new Uint8Array(256);
for (const s of STARTS) for (const c of s.slice(0, -1)) PREFIX_CHAR[c.charCodeAt(0)] = 1;

/**
 * Bytes at `i` a line editor may put inside a typed word: a CSI sequence, " \r", or a lone "\r"
 * (bash's readline at the wrap column writes the row's last character, "\r", and that character
 * again). 0 if none.
 */
function glueAt(buf: Buffer, i: number): number {
  if (buf[i] === 0x20 && buf[i + 1] === 0x0d) return 2;
  if (buf[i] === 0x0d && buf[i + 1] !== 0x0a) return 1;
  if (buf[i] !== ESC || buf[i + 1] !== 0x5b) return 0;
  for (let j = i + 2; j < buf.length && j < i + 24; j++) {
    const b = buf[j];
    if (b >= 0x40 && b <= 0x7e) return j + 1 - i;
    if (b < 0x20 || b > 0x3f) return 0;
  }
  return buf.length - i < 24 ? buf.length - i : 0; // cut at the end: maybe glue
}

interface Walk {
  /** indexes of the candidate's own characters (not glue) */
  at: number[];
  /** it runs to the end of the buffer: more may follow in the next write */
  open: boolean;
}

function walk(buf: Buffer, start: number): Walk {
  const at: number[] = [];
  let i = start;
  while (i < buf.length && at.length <= MAX_HOLD) {
    if (CRED[buf[i]]) {
      at.push(i++);
      continue;
    }
    // glue (possibly several sequences in a row) counts only between two credential characters
    let j = i;
    for (let g = glueAt(buf, j); g > 0 && j < buf.length; g = glueAt(buf, j)) j += g;
    if (j === i) return { at, open: false };
    if (j >= buf.length) return { at, open: true };
    if (!CRED[buf[j]]) return { at, open: false };
    i = j;
  }
  return { at, open: i >= buf.length };
}

/**
 * Where a JWS first starts in `n` token characters (`code(k)` the k-th), or -1: the index the
 * regular expression `eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}` would find, in
 * one pass. That expression backtracks over every "eyJ" to the next "." and back: "eyJeyJ…" cost
 * it a number of steps growing with the square of the length (300 KB held the event loop ~1 min).
 */
function jwsStart(n: number, code: (k: number) => number): number {
  // segments between dots: [starts[s], end(s))
  const starts: number[] = [0];
  for (let k = 0; k < n; k++) if (code(k) === DOT) starts.push(k + 1);
  const end = (s: number) => (s + 1 < starts.length ? starts[s + 1] - 1 : n);
  for (let s = 0; s + 2 < starts.length; s++) {
    if (end(s + 1) - starts[s + 1] < 8 || end(s + 2) - starts[s + 2] < 16) continue;
    // "eyJ" and at least 8 more before the dot: the first such "eyJ" in the segment
    for (let k = starts[s]; k + 3 + 8 <= end(s); k++) {
      if (code(k) === 0x65 && code(k + 1) === 0x79 && code(k + 2) === 0x4a) return k;
    }
  }
  return -1;
}

const DOT = ".".charCodeAt(0);

/** Where `buf` ends with the start of a credential prefix ("e", "ey", "gate…"), or -1. */
function partialStartAtEnd(buf: Buffer): number {
  if (!buf.length || !PREFIX_CHAR[buf[buf.length - 1]]) return -1;
  let earliest = -1;
  for (const s of STARTS) {
    for (let n = Math.min(s.length - 1, buf.length); n > 0; n--) {
      if (buf.toString("latin1", buf.length - n) !== s.slice(0, n)) continue;
      if (earliest < 0 || buf.length - n < earliest) earliest = buf.length - n;
      break;
    }
  }
  return earliest;
}

/**
 * `buf` with credentials replaced (a copy when one is; `buf` is never changed), and, unless
 * `final`, the end that may be the start of a credential continued by the next write (`hold`,
 * to be put in front of it).
 */
export function scrubBytes(buf: Buffer, final: boolean): { body: Buffer; hold: Buffer | null } {
  let out: Buffer | null = null;
  let from = 0;
  for (;;) {
    const next = nextStart(buf, from);
    if (next < 0) break;
    const w = walk(buf, next);
    if (w.open && !final && buf.length - next <= MAX_HOLD) return { body: (out ?? buf).subarray(0, next), hold: Buffer.from(buf.subarray(next)) };
    // Anywhere in the run ("eyJ." then a token was left as it was), and from there to the run's
    // end (CONSOLE's comment says why).
    const m = jwsStart(w.at.length, (k) => buf[w.at[k]]);
    if (m >= 0) {
      out ??= Buffer.from(buf);
      const p = placeholder(w.at.length - m);
      for (let k = m; k < w.at.length; k++) out[w.at[k]] = p.charCodeAt(k - m);
      // A run longer than the window: the rest of it too, a window at a time.
      let rest = w;
      while (rest.at.length > MAX_HOLD) {
        rest = walk(buf, rest.at[rest.at.length - 1] + 1);
        for (const i of rest.at) out[i] = STAR;
      }
      from = (rest.at.length ? rest.at[rest.at.length - 1] : w.at[w.at.length - 1]) + 1;
    } else if (w.at.length > MAX_HOLD) {
      // A run longer than the window, nothing in it so far: a credential across the window's end
      // started in its last OVERLAP characters (none is that long). Search on from there, not
      // from the window's end, where that credential's header would have been left behind.
      from = w.at[w.at.length - OVERLAP];
    } else from = (w.at.length ? w.at[w.at.length - 1] : next) + 1;
  }
  const body = out ?? buf;
  if (final) return { body, hold: null };
  const partial = partialStartAtEnd(buf);
  return partial < 0 ? { body, hold: null } : { body: body.subarray(0, partial), hold: Buffer.from(buf.subarray(partial)) };
}

/**
 * Whether a credential may start in `held` (what scrubBytes held back, plus any incomplete
 * character) and go on into `next`, the bytes that follow it. When not, scrubbing `held` and
 * `next` together finds exactly what scrubbing `next` alone finds (every start, hence every walk
 * and hold, lies in `next`), so `next` need not be copied behind `held` to be scrubbed.
 */
export function startsAcross(held: Buffer, next: Buffer): boolean {
  const seam = Buffer.concat([held, next.subarray(0, START_MAX - 1)]);
  return STARTS.some((s) => seam.includes(s));
}

const START_MAX = Math.max(...STARTS.map((s) => s.length));

/**
 * The next token start at or after `from`, searched by "yJ": Buffer.indexOf finds a two-byte
 * needle whose first byte is rare several times faster than "eyJ" ("e" is everywhere in text),
 * and bulk output passes through here.
 */
function nextStart(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(YJ, from + 1); i > 0; i = buf.indexOf(YJ, i + 1)) if (buf[i - 1] === 0x65) return i - 1;
  return -1;
}

const YJ = Buffer.from("yJ");

/** scrubBytes for decoded text (typed input): the same, in characters. */
export function scrubText(text: string, final: boolean): { text: string; hold: string } {
  if (!text) return { text, hold: "" };
  const { body, hold } = scrubBytes(Buffer.from(text, "utf8"), final);
  return { text: body.toString("utf8"), hold: hold ? hold.toString("utf8") : "" };
}
