/**
 * Masking for byte streams that arrive in arbitrary chunks (SSH channel data, kubectl exec).
 *
 * A secret can be split across chunks ("4111 1111" + " 1111 1111"), so the stream masker holds
 * back the tail of the buffered text that could still grow into a match, and emits the rest
 * masked. What is held:
 *
 * - Never anything before the last line break: every built-in match except a private-key block
 *   lies within one line, so a newline always releases the text before it.
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
 * - An incomplete ANSI CSI sequence is held whole, so escape sequences are never split. A
 *   sequence that may join two parts of a value ("4111 1111 \x1b[1m" + "1111 1111", escapes.ts)
 *   does not end the held run: the run continues before it, and the value is masked whole,
 *   sequence included.
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
import { F_B64, F_ENTITY, has } from "./detectors/chars";
import { isIntlLetter } from "./detectors/email";
import { csiChainEnd, escapeJoins } from "./detectors/escapes";
import { asciiOf, foldsUnit } from "./detectors/fold";
import { KEY_LINE_OTHER, KEY_LINE_FOOTER, classifyKeyLine, endsInsideKeyBlock } from "./detectors/private-key";
import { maskerInternals } from "./masker";
import type { Masker } from "./types";

export const STREAM_MAX_HOLD = 2048;
const SPACE = 32;

export interface StreamMasker {
  /** Mask what can be decided now; the rest is held back (bounded). */
  push(chunk: string): string;
  /** Emit everything held, masked as if the stream ended here. */
  flush(): string;
}

export function createStreamMasker(masker: Masker, opts: { maxHold?: number } = {}): StreamMasker {
  const maxHold = opts.maxHold ?? STREAM_MAX_HOLD;
  const facts = maskerInternals(masker);
  if (!facts.masksText) return { push: (chunk) => chunk, flush: () => "" };
  let pending = "";
  let inKey = false;

  /** Emit `text` masked and note whether it leaves us inside a key block. */
  const emit = (text: string): string => {
    if (text.length === 0) return "";
    if (facts.textDetectsPrivateKeys && endsInsideKeyBlock(text)) inKey = true;
    return masker.maskText(text);
  };

  return {
    push(chunk: string): string {
      let buf = pending + chunk;
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
      }
      const cut = holdPoint(buf, facts.textHasCustomPatterns, maxHold);
      pending = buf.slice(cut);
      return emit(buf.slice(0, cut));
    },
    flush(): string {
      const rest = pending;
      pending = "";
      if (inKey) return ""; // a partial line of key material
      return emit(rest);
    },
  };
}

/** Index from which `buf` must be held back (buf.length = emit everything). */
function holdPoint(buf: string, holdWholeLine: boolean, maxHold: number): number {
  const n = buf.length;
  const lineStart = buf.lastIndexOf("\n") + 1;
  if (lineStart === n) return n;
  let p = lineStart;
  if (!holdWholeLine) {
    p = n;
    for (;;) {
      while (p > lineStart && mayBeInMatch(buf.charCodeAt(p - 1))) p--;
      // The run stopped in (or right after) an escape sequence that may join two parts of a
      // value ("4111 1111 \x1b[1m" + "1111 1111"): hold from before it and keep walking.
      const esc = joiningEscapeBefore(buf, p, lineStart);
      if (esc < 0) break;
      p = esc;
    }
  }
  // The run may start inside the parameters of an escape sequence ("\x1b[0m ok"; the last one,
  // or an earlier one when the run went on across sequences that join a value): those
  // characters are never part of a match, so start after the sequence. The last sequence may be
  // incomplete, and then it is held whole.
  const last = buf.lastIndexOf("\x1b");
  if (last >= lineStart && escapeEnd(buf, last) < 0) p = Math.min(p, last);
  const esc = p > lineStart ? buf.lastIndexOf("\x1b", p - 1) : -1;
  if (esc >= lineStart) {
    const end = escapeEnd(buf, esc);
    // A broken CSI ("\x1b[ 123-45-6789": a parameter after an intermediate) is not skipped: the
    // detectors read it as a boundary, so what follows it may be the start of a value.
    if (end >= 0 && p > esc && p < end && !brokenCsi(buf, esc, end)) p = end;
  }
  if (!holdWholeLine) while (p < n && buf.charCodeAt(p) === SPACE) p++;
  return n - p > maxHold ? n - maxHold : p;
}

/**
 * Characters that can occur inside a built-in match: non-ASCII letters (in email addresses), and
 * characters that fold to match characters (full-width digits, NBSP, zero-width spaces, fold.ts).
 */
function mayBeInMatch(c: number): boolean {
  return c < 128 ? has(c, F_ENTITY) : isIntlLetter(c) || foldsUnit(c);
}

/**
 * The first ESC of a chain of CSI sequences (the last may be incomplete) that contains or ends at `p` and may join a
 * value (escapes.ts): with text after it, as the folding pass decides; at the end of the buffer,
 * when a digit or '@' (possibly then spaces or dashes) comes before it. Else -1.
 */
function joiningEscapeBefore(buf: string, p: number, lineStart: number): number {
  let esc = buf.lastIndexOf("\x1b", p - 1);
  if (esc < lineStart) return -1;
  let end = csiChainEnd(buf, esc);
  if (end === esc) {
    if (escapeEnd(buf, esc) >= 0) return -1; // not a CSI sequence
    end = buf.length; // incomplete: it reaches the end of the buffer
  }
  if (end < p) return -1;
  // the start of the chain: earlier sequences that end where this one starts
  // (lastIndexOf with a negative start searches from 0: stop at lineStart first)
  while (esc > lineStart) {
    const prev = buf.lastIndexOf("\x1b", esc - 1);
    if (prev < lineStart || csiChainEnd(buf, prev) < end) break;
    esc = prev;
  }
  if (esc === lineStart) return -1;
  // as the folding pass reads them: a full-width digit is a digit
  if (end < buf.length) return escapeJoins(asciiOf(buf.charCodeAt(esc - 1)), asciiOf(buf.charCodeAt(end))) ? esc : -1;
  let q = esc - 1;
  while (q > lineStart && (asciiOf(buf.charCodeAt(q)) === SPACE || asciiOf(buf.charCodeAt(q)) === 45)) q--;
  const c = asciiOf(buf.charCodeAt(q));
  return (c >= 48 && c <= 57) || c === 64 ? esc : -1;
}

/** End of the escape sequence at `esc`, or -1 while it is incomplete. Only CSI is tracked. */
function escapeEnd(buf: string, esc: number): number {
  if (esc + 1 >= buf.length) return -1;
  if (buf.charCodeAt(esc + 1) !== 91) return esc + 1;
  for (let p = esc + 2; p < buf.length; p++) {
    const c = buf.charCodeAt(p);
    if (c >= 0x40 && c <= 0x7e) return p + 1;
    if (c < 0x20 || c > 0x3f) return p; // malformed: not ours to protect
  }
  return -1;
}

/** Whether the CSI at `esc`, ended at `end` by escapeEnd, broke off without a final byte or out of order. */
function brokenCsi(buf: string, esc: number, end: number): boolean {
  if (buf.charCodeAt(esc + 1) !== 91) return false;
  const last = buf.charCodeAt(end - 1);
  if (last < 0x40 || last > 0x7e) return true;
  // parameters (0x30-0x3f), then intermediates (0x20-0x2f), then the final byte
  let intermediate = false;
  for (let q = esc + 2; q < end - 1; q++) {
    const c = buf.charCodeAt(q);
    if (c <= 0x2f) intermediate = true;
    else if (intermediate) return true;
  }
  return false;
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
