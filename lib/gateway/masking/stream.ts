/**
 * Masking for byte streams that arrive in arbitrary chunks (SSH channel data, kubectl exec).
 *
 * A secret can be split across chunks ("4111 1111" + " 1111 1111"), so the stream masker holds
 * back the tail of the buffered text that could still grow into a match, and emits the rest
 * masked. What is held:
 *
 * - Never anything before the last line break: every built-in match except a private-key block
 *   lies within one line, so a newline always releases the text before it. A line break inside
 *   a control string (a title holding "\n") is not one: terminals print nothing of the string.
 * - From the last line break, the trailing run of characters that can occur inside a match
 *   (ASCII letters and digits, "_-.%+@:()/=", spaces, non-ASCII letters), minus leading spaces.
 *   Every other character (",;$#>\"'", control characters) cannot be inside a built-in match,
 *   so text up to it is final: a prompt ending in "$ " is emitted at once. Because the emitted
 *   part always ends at such a character, masking it alone gives the same result as masking
 *   the whole text (a property test checks this for arbitrary chunkings). When the masker has
 *   admin regexes or dictionaries, which may match any character, the whole line tail is held
 *   instead, and those patterns are matched within lines.
 * - At most `maxHold` (default 2048) characters: enough for long JWTs; a single unbroken run
 *   longer than that may be split and then masked best-effort.
 * - An incomplete escape sequence (CSI, a control string such as a title, escapes.ts: the same
 *   grammar the detectors use) is held whole, so sequences are never split, and a chain of
 *   sequences is emitted whole (the folding pass decides for the whole chain). A chain that may
 *   join two parts of a value ("4111 1111 \x1b[1m" + "1111 1111") does not end the held run:
 *   the run continues before it, and the value is masked whole, sequences included. A chain
 *   longer than half of `maxHold` (a 10 KB title) is clipped, the rest of it dropped, so that the
 *   value around it is still held whole (overlong-sequences.ts).
 *
 * Callers must call `flush()` when the stream goes idle (e.g. 20–50 ms without data) and at the
 * end: held text is only delayed, never dropped. Characters typed one per chunk are therefore
 * echoed after the idle flush, each unmasked on its own; echo of the user's own input is not a
 * disclosure we try to prevent.
 *
 * Private keys span lines: once an emitted part ends inside a "-----BEGIN ... PRIVATE KEY-----"
 * block, following lines that look like key material (base64, PEM headers, the END line) are
 * swallowed: the marker already printed stands for the whole block.
 */
import { F_B64, F_ENTITY, F_LOCAL, has } from "./detectors/chars";
import { isIntlLetter } from "./detectors/email";
import { ESC_INCOMPLETE, brokenSequenceBefore, chainEnd, controlStringBody, escapeJoins, isEscapeStart, lastEscapeStart, lastLineStart, scanResume, sequenceEnd } from "./detectors/escapes";
import { asciiOf, foldsUnit } from "./detectors/fold";
import { clipSequenceChains } from "./detectors/overlong-sequences";
import { KEY_LINE_OTHER, KEY_LINE_FOOTER, classifyKeyLine, endsInsideKeyBlock } from "./detectors/private-key";
import { maskerInternals } from "./masker";
import type { Masker } from "./types";
import { columnAfter, markSoftBreaks, numberRowAfter, originalIndex, restoreBreaks } from "./wrap";

export const STREAM_MAX_HOLD = 2048;
const SPACE = 32;

export interface StreamMasker {
  /** Mask what can be decided now; the rest is held back (bounded). */
  push(chunk: string): string;
  /** Emit everything held, masked as if the stream ended here. */
  flush(): string;
}

/**
 * `columns`: the width of the terminal the stream is shown on (0 or absent: not a terminal, or
 * unknown). A line break a program prints where that terminal wraps anyway does not split a
 * value (wrap.ts).
 */
export function createStreamMasker(masker: Masker, opts: { maxHold?: number; columns?: () => number } = {}): StreamMasker {
  const maxHold = opts.maxHold ?? STREAM_MAX_HOLD;
  const facts = maskerInternals(masker);
  if (!facts.masksText) return { push: (chunk) => chunk, flush: () => "" };
  let pending = "";
  let inKey = false;
  /** the display column where `pending` starts */
  let col = 0;
  /** what was emitted of the row `pending` starts in held only number material (wrap.ts) */
  let openRow = true;

  /** Emit `text` masked and note whether it leaves us inside a key block. */
  const emit = (text: string): string => {
    if (text.length === 0) return "";
    if (facts.textDetectsPrivateKeys && endsInsideKeyBlock(text)) inKey = true;
    return facts.maskMarkedText(text);
  };
  /** What of `buf` can be emitted (all of it when `final`), masked with its soft breaks (wrap.ts), and the rest. */
  const emitWrapped = (buf: string, final: boolean): [out: string, rest: string] => {
    const columns = opts.columns?.() ?? 0;
    // A CR at the end may be the first half of a soft CRLF: read it as one, never emit the LF
    // not received yet.
    const cr = !final && buf.endsWith("\r");
    const marked = markSoftBreaks(cr ? `${buf}\n` : buf, col, columns, final, openRow);
    let text = marked ? marked.text : buf;
    if (cr && marked && text.endsWith("\n")) text = text.slice(0, -1);
    let cut = final ? text.length : holdPoint(text, facts.textHasCustomPatterns, maxHold);
    // a break joined on a guess about the row after it: the value before it waits for that row
    if (marked && marked.provisional >= 0 && cut > marked.provisional) cut = holdPoint(text.slice(0, marked.provisional + 1), facts.textHasCustomPatterns, maxHold);
    if (cr && marked && cut === text.length && text.length > 0 && originalIndex(marked, cut) > buf.length) cut--;
    const end = marked ? Math.min(originalIndex(marked, cut), buf.length) : cut;
    if (columns > 0) col = columnAfter(col, buf, end);
    if (end > 0) openRow = numberRowAfter(openRow, buf, end);
    const out = emit(text.slice(0, cut));
    return [marked ? restoreBreaks(out) : out, buf.slice(end)];
  };

  return {
    push(chunk: string): string {
      // a chain of sequences longer than the stream can hold is clipped (overlong-sequences.ts)
      let buf = clipSequenceChains(pending + chunk, maxHold >> 1);
      pending = "";
      if (inKey) {
        let pos = 0;
        for (;;) {
          const nl = buf.indexOf("\n", pos);
          if (nl < 0) break;
          const kind = classifyKeyLine(buf, pos, nl);
          if (kind === KEY_LINE_OTHER) {
            inKey = false;
            break;
          }
          pos = nl + 1;
          if (kind === KEY_LINE_FOOTER) {
            inKey = false;
            break;
          }
        }
        if (inKey) {
          const rest = buf.slice(pos);
          if (rest.length <= maxHold && couldBeKeyLine(rest)) {
            pending = rest;
            return "";
          }
          inKey = false;
        }
        buf = buf.slice(pos);
        if (pos > 0) {
          col = 0;
          openRow = true;
        }
      }
      const [out, rest] = emitWrapped(buf, false);
      pending = rest;
      return out;
    },
    flush(): string {
      const rest = pending;
      pending = "";
      if (inKey) return ""; // a partial line of key material
      return emitWrapped(rest, true)[0];
    },
  };
}

/** Index from which `buf` must be held back (buf.length = emit everything). */
function holdPoint(buf: string, holdWholeLine: boolean, maxHold: number): number {
  const n = buf.length;
  // a line break inside a control string is no line break (the terminal prints none of it)
  const lineStart = lastLineStart(buf, maxHold);
  if (lineStart === n) return n;
  // An incomplete sequence is held whole: until it ends, nobody knows whether it joins a value.
  // When it may, the value before it is held too.
  const open = openSequence(buf, lineStart);
  let p = holdWholeLine ? lineStart : n;
  if (!holdWholeLine) {
    const joining = open >= 0 ? joiningEscapeBefore(buf, open, lineStart, open) : -1;
    p = joining >= 0 ? joining : open >= 0 ? open : n;
    if (open < 0 || joining >= 0) {
      for (;;) {
        while (p > lineStart && mayBeInMatch(buf.charCodeAt(p - 1))) p--;
        // The run stopped in (or right after) an escape sequence that may join two parts of a
        // value ("4111 1111 \x1b[1m" + "1111 1111"): hold from before it and keep walking.
        const esc = joiningEscapeBefore(buf, p, lineStart, -1);
        if (esc < 0) break;
        p = esc;
      }
    }
  }
  // The run may start inside a chain of sequences that does not join ("\x1b[0m ok": in its
  // parameters, or in the payload of a title): the folding pass keeps such a chain whole, so it
  // is emitted whole. A broken sequence ("\x1b[ 123-45-6789") is a boundary and nothing more.
  const esc = p > lineStart ? lastEscapeStart(buf, p, lineStart) : -1;
  if (esc >= 0) {
    const start = chainStart(buf, esc, lineStart);
    const end = chainEnd(buf, start);
    if (p > start && p < end) p = end;
  }
  if (!holdWholeLine) while (p < n && buf.charCodeAt(p) === SPACE) p++;
  // a sequence cut short by the held run is masked with a value the run may become: held with it
  if (p > lineStart && p < n) {
    const broken = brokenSequenceBefore(buf, p, lineStart);
    if (broken >= 0) p = broken;
  }
  p = beforeCancelledString(buf, p, lineStart);
  return n - p > maxHold ? n - maxHold : p;
}

/**
 * A control string that the sequence at `p` cancels ("\x1b_4111…" + "\x1b]0;…") is complete only
 * with that sequence after it: cut at `p`, it would read as cut off (its ESC a boundary, its
 * payload glued to the introducer) instead of as a string with a payload. So it is held too.
 */
function beforeCancelledString(buf: string, p: number, lineStart: number): number {
  while (p < buf.length && isEscapeStart(buf.charCodeAt(p))) {
    const esc = lastEscapeStart(buf, p, lineStart);
    if (esc < 0 || controlStringBody(buf, esc) < 0 || sequenceEnd(buf, esc) !== p) break;
    p = esc; // which may itself cancel a string before it
  }
  return p;
}

/**
 * Characters that can occur inside a built-in match: non-ASCII letters (in email addresses), and
 * characters that fold to match characters (full-width digits, NBSP, zero-width spaces, fold.ts).
 */
function mayBeInMatch(c: number): boolean {
  return c < 128 ? has(c, F_ENTITY) : isIntlLetter(c) || foldsUnit(c);
}

/**
 * The first escape start of the chain of sequences that contains or ends at `p` (or ends in the
 * incomplete sequence at `open`), when the chain may join two parts of a value as the folding
 * pass decides (escapes.ts): by the character before the chain and the one after it. A chain
 * that ends at the end of the buffer may join whatever comes next ("bob" + "\x1b[1m@x.com"),
 * so it does unless it starts the line or follows a character that cannot be in a value. Else -1.
 */
function joiningEscapeBefore(buf: string, p: number, lineStart: number, open: number): number {
  const last = open >= 0 ? open : lastEscapeStart(buf, p, lineStart);
  if (last < 0) return -1;
  let end = chainEnd(buf, last);
  if (end === last) {
    if (sequenceEnd(buf, last) !== ESC_INCOMPLETE) return -1; // broken: a boundary
    end = buf.length;
  }
  if (end < p) return -1;
  const esc = chainStart(buf, last, lineStart);
  if (esc === lineStart) return -1;
  // as the folding pass reads them: a full-width digit is a digit
  const left = asciiOf(buf.charCodeAt(esc - 1));
  // At the end of the buffer what comes next is unknown: a digit or an '@' may. After spaces,
  // joining matters only to a value before them ("4111 " + "\x1b[1m1111 …"); else " " +
  // "4111…" reads as the sequence + "4111…" does.
  if (end === buf.length) return left === 64 || has(left, F_LOCAL) || (left === SPACE && digitBeforeSpaces(buf, esc - 1, lineStart)) ? esc : -1;
  return escapeJoins(left, asciiOf(buf.charCodeAt(end))) ? esc : -1;
}

/**
 * Whether a digit comes before the spaces that end at `q`, as the folding pass reads it: a chain
 * of sequences between the digit and the spaces is dropped there ("5\x1b[1m " reads "5 ").
 */
function digitBeforeSpaces(buf: string, q: number, lineStart: number): boolean {
  for (;;) {
    while (q > lineStart && asciiOf(buf.charCodeAt(q)) === SPACE) q--;
    const last = lastEscapeStart(buf, q + 1, lineStart);
    if (last < 0) break;
    const esc = chainStart(buf, last, lineStart);
    if (esc <= lineStart || chainEnd(buf, esc) !== q + 1) break;
    q = esc - 1;
  }
  const c = asciiOf(buf.charCodeAt(q));
  return c >= 48 && c <= 57;
}

/**
 * The first sequence of the chain that the sequence at `esc` belongs to: earlier ones that end where
 * the next starts. The sequence before is in the chain when it ends at `esc` or past it (`esc` in
 * its payload): no escape starts between them, so that is what `chainEnd(prev) >= esc` says, read
 * from the one sequence rather than the whole chain after it (which made each call quadratic in the
 * chain's length, and a long chain of titles fed a character at a time took seconds).
 */
function chainStart(buf: string, esc: number, lineStart: number): number {
  for (;;) {
    const prev = lastEscapeStart(buf, esc, lineStart);
    if (prev < 0 || sequenceEnd(buf, prev) < esc) return esc;
    esc = prev;
  }
}

/** The start of a sequence in the line from `lineStart` that the buffer ends inside, or -1. */
function openSequence(buf: string, lineStart: number): number {
  for (let p = lineStart; p < buf.length; p++) {
    if (!isEscapeStart(buf.charCodeAt(p))) continue;
    const end = sequenceEnd(buf, p);
    if (end === ESC_INCOMPLETE) return p;
    if (end > p + 1) p = end - 1;
  }
  return -1;
}

/** A partial line that may still turn out to be key material or the END line. */
function couldBeKeyLine(rest: string): boolean {
  if (rest.length === 0) return true;
  if ("-----END ".startsWith(rest) || rest.startsWith("-----END ")) return true;
  for (let p = 0; p < rest.length; p++) {
    const c = rest.charCodeAt(p);
    if (!has(c, F_B64) && c !== 13 && c !== 45 && c !== 58 && c !== SPACE && c !== 44) return false;
  }
  return true;
}
