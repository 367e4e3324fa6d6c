/**
 * PEM private-key blocks: "-----BEGIN <label> PRIVATE KEY-----" through the matching
 * "-----END ...-----" line. The whole block is one match, so it becomes one marker.
 *
 * Lines may be separated by real newlines or by the two characters '\' 'n' (keys pasted into
 * JSON, e.g. cloud service-account files). When no END line is found (output truncated by
 * `head`, a half-pasted key), the block is masked through its last base64/PEM-header line:
 * failing closed for key material without swallowing the prose that follows it.
 *
 * Only reached when "-----BEGIN " is at hand, so it reads the string directly rather than the
 * scanner's code-unit buffer (the stream masker calls it on its own strings too).
 */
import { F_B64, F_DIGIT, F_LOWER, F_UPPER, K_PRIVATE_KEY, has, type MatchOut } from "./chars";

const BEGIN = "-----BEGIN ";
const END = "-----END ";
const DASHES = "-----";
const MAX_LABEL = 64;
/** An RSA-16384 key is ~12 KB; anything longer between BEGIN and END is not one block. */
const MAX_BLOCK = 65536;
const LF = 10;
const CR = 13;
const BACKSLASH = 92;

/** `i` is a '-'. */
export function matchPrivateKey(text: string, i: number, n: number, out: MatchOut): boolean {
  if (!text.startsWith(BEGIN, i)) return false;
  const headerEnd = labelEnd(text, i + BEGIN.length, n, true);
  if (headerEnd < 0) return false;
  out.start = i;
  out.kind = K_PRIVATE_KEY;
  const footer = text.indexOf(END, headerEnd);
  if (footer >= 0 && footer - headerEnd <= MAX_BLOCK && onlyBodyChars(text, headerEnd, footer)) {
    const footerEnd = labelEnd(text, footer + END.length, n, false);
    out.end = footerEnd >= 0 ? footerEnd : footer + END.length;
    return true;
  }
  out.end = lastBodyLineEnd(text, headerEnd, n);
  return true;
}

/**
 * True when `text` ends inside an unterminated private-key block (only line breaks after its
 * last body line). The stream masker then keeps masking the key's lines in later chunks.
 */
export function endsInsideKeyBlock(text: string): boolean {
  const begin = text.lastIndexOf(BEGIN);
  if (begin < 0) return false;
  const headerEnd = labelEnd(text, begin + BEGIN.length, text.length, true);
  if (headerEnd < 0 || text.indexOf(END, headerEnd) >= 0) return false;
  const end = lastBodyLineEnd(text, headerEnd, text.length);
  for (let p = end; p < text.length; p++) {
    const c = text.charCodeAt(p);
    if (c !== LF && c !== CR) return false;
  }
  return true;
}

export const KEY_LINE_OTHER = 0;
export const KEY_LINE_BODY = 1;
export const KEY_LINE_FOOTER = 2;
export type KeyLine = typeof KEY_LINE_OTHER | typeof KEY_LINE_BODY | typeof KEY_LINE_FOOTER;

/** Classify text[start, end) (one line, without its line break) inside an open key block. */
export function classifyKeyLine(text: string, start: number, end: number): KeyLine {
  if (end > start && text.charCodeAt(end - 1) === CR) end--;
  if (text.startsWith(END, start)) return KEY_LINE_FOOTER;
  return isBodyLine(text, start, end) ? KEY_LINE_BODY : KEY_LINE_OTHER;
}

/** End of the "<label>-----" that closes a BEGIN/END line, or -1. */
function labelEnd(text: string, from: number, n: number, requirePrivate: boolean): number {
  const close = text.indexOf(DASHES, from);
  if (close < 0 || close - from > MAX_LABEL) return -1;
  for (let p = from; p < close; p++) {
    const c = text.charCodeAt(p);
    if (c === LF || c === CR) return -1;
  }
  if (requirePrivate && text.lastIndexOf("PRIVATE KEY", close) < from) return -1;
  return Math.min(n, close + DASHES.length);
}

/** Base64 lines, PEM headers ("Proc-Type: 4,ENCRYPTED") and line breaks only. */
function onlyBodyChars(text: string, from: number, to: number): boolean {
  for (let p = from; p < to; p++) {
    const c = text.charCodeAt(p);
    if (has(c, F_B64) || c === LF || c === CR || c === 32 || c === 9 || c === BACKSLASH || c === 58 || c === 45 || c === 44) continue;
    return false;
  }
  return true;
}

function lastBodyLineEnd(text: string, pos: number, n: number): number {
  let last = pos;
  for (;;) {
    // Each line must start after a line break (real or the escaped "\n").
    if (text.charCodeAt(pos) === CR) pos++;
    if (text.charCodeAt(pos) === LF) pos++;
    else if (text.charCodeAt(pos) === BACKSLASH && text.charCodeAt(pos + 1) === 110) pos += 2;
    else return last;
    let lineEnd = pos;
    while (lineEnd < n) {
      const c = text.charCodeAt(lineEnd);
      if (c === LF || c === CR || (c === BACKSLASH && text.charCodeAt(lineEnd + 1) === 110)) break;
      lineEnd++;
    }
    if (!isBodyLine(text, pos, lineEnd)) return last;
    if (lineEnd > pos) last = lineEnd;
    pos = lineEnd;
    if (pos >= n) return last;
  }
}

function isBodyLine(text: string, start: number, end: number): boolean {
  let p = start;
  while (p < end && has(text.charCodeAt(p), F_B64)) p++;
  if (p === end) return true;
  // PEM header: a dashed word, a colon, a space ("DEK-Info: AES-128-CBC,...").
  p = start;
  while (p < end && (has(text.charCodeAt(p), F_UPPER | F_LOWER | F_DIGIT) || text.charCodeAt(p) === 45)) p++;
  return p > start && text.charCodeAt(p) === 58 && text.charCodeAt(p + 1) === 32;
}
