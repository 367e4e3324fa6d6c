/**
 * The one grammar of terminal escape sequences, used by the detectors (scanner.ts, fold.ts) and
 * the stream masker (stream.ts). Two grammars for one thing drift, and the drift leaks: a
 * sequence one side skips and the other reads as text splits or joins a value differently when
 * it is streamed. What a terminal does not print (ECMA-48, as xterm and VTE parse it):
 *
 * - CSI: ESC '[' (or C1 0x9B), parameters 0x30-0x3F, intermediates 0x20-0x2F, a final 0x40-0x7E
 * - control strings: OSC ESC ']' (0x9D), DCS ESC 'P' (0x90), SOS ESC 'X' (0x98), PM ESC '^'
 *   (0x9E), APC ESC '_' (0x9F), up to BEL (OSC), ST (ESC '\' or 0x9C), CAN or SUB; an ESC that
 *   does not begin ST or a C1 control ends the string before it; other C0 controls (line breaks
 *   too) are ignored inside it, as terminals do, so a string may span lines
 * - ESC, intermediates 0x20-0x2F, a final 0x30-0x7E: charset designations ("\x1b(B"), "\x1b7", "\x1b="
 * - any other C1 control (0x80-0x9F) alone
 *
 * Anything else after an ESC (a parameter after an intermediate, a control character) is broken:
 * the ESC alone is a boundary and what follows is read as text, which can only mask more.
 *
 * A sequence normally acts as a boundary: it is never masked or split, and "\x1b[32m4111…"
 * starts a new token. The payload of a control string (a window title, a hyperlink) is read as
 * text: a terminal shows it somewhere, so values in it are masked. But a program (or an agent
 * that wants the value out) can print sequences between the digits of a card,
 * "4111 1111 \x1b[1m1111 1111", or around the '@' of an address: the terminal shows the value
 * whole, so it must be masked whole. Such a chain of complete sequences is dropped by the folding
 * pass (fold.ts), joining the parts, or read as a space between two digits (a group boundary, or
 * two values side by side that must not merge into one overlong run); the match then covers the
 * sequences, which are masked with it. Known gap: inside a group of a dash-grouped card
 * ("4111-11\x1b[1m11-…") the space makes the separators mixed, and no card is found.
 *
 * A chain joins when it sits between a digit and a digit or number separator (space, '-', '.'),
 * next to an '@', or between two characters of an address or a key (letters, digits, "_.%+-":
 * "AKIA\x1b[0mIOSF…"). Elsewhere ("ok\x1b[0m 42", a coloured prompt) it stays a boundary.
 */

import { F_LOCAL, has } from "./chars";

const ESC = 27;
/** the text ends before the sequence does: a stream holds it whole */
export const ESC_INCOMPLETE = -1;
/** not a sequence: the ESC alone is a boundary, what follows is text */
export const ESC_BROKEN = -2;

/** An ESC or a C1 control: the start of a sequence (complete, incomplete or broken). */
export function isEscapeStart(c: number): boolean {
  return c === ESC || (c >= 0x80 && c <= 0x9f);
}

function isStringIntroducer(c: number): boolean {
  return c === 0x5d || c === 0x50 || c === 0x58 || c === 0x5e || c === 0x5f; // ] P X ^ _
}

/** Index just past the introducer of the control string at `i` (its payload starts there), or -1. */
export function controlStringBody(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === ESC) return isStringIntroducer(text.charCodeAt(i + 1)) ? i + 2 : -1;
  return c === 0x9d || c === 0x90 || c === 0x98 || c === 0x9e || c === 0x9f ? i + 1 : -1;
}

/** End of the sequence at `i` (an escape start), ESC_INCOMPLETE or ESC_BROKEN. */
export function sequenceEnd(text: string, i: number): number {
  const n = text.length;
  const c = text.charCodeAt(i);
  if (c !== ESC) {
    if (c === 0x9b) return csiEnd(text, i + 1);
    return controlStringBody(text, i) > 0 ? controlStringEnd(text, i + 1, c === 0x9d) : i + 1;
  }
  if (i + 1 >= n) return ESC_INCOMPLETE;
  const next = text.charCodeAt(i + 1);
  if (next === 0x5b) return csiEnd(text, i + 2);
  if (isStringIntroducer(next)) return controlStringEnd(text, i + 2, next === 0x5d);
  let p = i + 1;
  while (p < n && text.charCodeAt(p) >= 0x20 && text.charCodeAt(p) <= 0x2f) p++;
  if (p >= n) return ESC_INCOMPLETE;
  const f = text.charCodeAt(p);
  return f >= 0x30 && f <= 0x7e ? p + 1 : ESC_BROKEN;
}

function csiEnd(text: string, p: number): number {
  const n = text.length;
  while (p < n && text.charCodeAt(p) >= 0x30 && text.charCodeAt(p) <= 0x3f) p++;
  while (p < n && text.charCodeAt(p) >= 0x20 && text.charCodeAt(p) <= 0x2f) p++;
  if (p >= n) return ESC_INCOMPLETE;
  const f = text.charCodeAt(p);
  return f >= 0x40 && f <= 0x7e ? p + 1 : ESC_BROKEN;
}

function controlStringEnd(text: string, p: number, osc: boolean): number {
  const n = text.length;
  for (; p < n; p++) {
    const c = text.charCodeAt(p);
    if (c >= 0x20 && (c < 0x80 || c > 0x9f)) continue;
    if ((c === 7 && osc) || c === 0x9c || c === 0x18 || c === 0x1a) return p + 1;
    if (c === ESC) {
      if (p + 1 >= n) return ESC_INCOMPLETE;
      if (text.charCodeAt(p + 1) === 0x5c) return p + 2; // ST
      return p; // a new sequence cancels the string
    }
    // Other C0 controls, line breaks included, are ignored inside a string (xterm, VTE, tmux):
    // "4111 \e]0;x\ny\a1111 …" shows one value on one row, so the string goes on.
    if (c < 0x20) continue;
    return p; // a C1 control ends it before it
  }
  return ESC_INCOMPLETE;
}

/**
 * Where the scanner goes on after the escape start at `i`: past a complete sequence, or into
 * the payload of a complete control string (read as text). A sequence that is broken, or cut off
 * by the end of the text, is read the same way: the ESC alone is a boundary. (The stream masker
 * holds a sequence that is cut off until it completes; what it emits must read the same as the
 * whole text, and a sequence cut off where a part ends is broken by what follows it.)
 */
export function scanResume(text: string, i: number): number {
  const end = sequenceEnd(text, i);
  if (end < 0) return i + 1;
  const body = controlStringBody(text, i);
  return body > 0 ? body : end;
}

/**
 * The start of a sequence that the text from `at` breaks, cut short just before `at` ("\x1b " or
 * "\x1b[1;" before a value), looking back to `from`; else -1. Such a prefix is a boundary, but
 * left in front of a masked value's replacement it would read that replacement's first character
 * as its own final ("\x1b " + "[REDACTED…" is one sequence): the masker drops it with the value.
 * Control strings are not cut short this way (only BEL or ST ends one), so they never count.
 */
export function brokenSequenceBefore(text: string, at: number, from: number): number {
  const esc = lastEscapeStart(text, at, from);
  if (esc < 0 || controlStringBody(text, esc) >= 0 || sequenceEnd(text, esc) >= 0) return -1;
  return sequenceEnd(text.substring(esc, at), 0) === ESC_INCOMPLETE ? esc : -1;
}

/** End of the run of complete sequences starting at `i` (i itself when there is none). */
export function chainEnd(text: string, i: number): number {
  let p = i;
  while (isEscapeStart(text.charCodeAt(p))) {
    const end = sequenceEnd(text, p);
    if (end < 0) break;
    p = end;
  }
  return p;
}

/**
 * Index just past the last line break of `text` that is not inside a control string (a
 * terminal prints nothing of a string's payload, its line breaks included), looking back at
 * most `max` characters from each break; 0 when there is none.
 */
export function lastLineStart(text: string, max: number): number {
  let nl = text.lastIndexOf("\n");
  while (nl > 0) {
    // inside a string there is no other escape start: the last one before the break is its introducer
    const esc = lastEscapeStart(text, nl, Math.max(0, nl - max));
    if (esc < 0 || controlStringBody(text, esc) < 0) break;
    const end = sequenceEnd(text, esc);
    if (end >= 0 && end <= nl) break;
    nl = esc > 0 ? text.lastIndexOf("\n", esc - 1) : -1;
  }
  return nl + 1;
}

/** The last escape start in [from, before), or -1. */
export function lastEscapeStart(text: string, before: number, from: number): number {
  for (let p = before - 1; p >= from; p--) if (isEscapeStart(text.charCodeAt(p))) return p;
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNumberSeparator(c: number): boolean {
  return c === 32 || c === 45 || c === 46;
}

/**
 * Whether a character `left` before and `right` after an escape chain make one value of it: around
 * an '@', between digits (and a number separator), and between the characters of an address or
 * a key ("bob@exa\e]0;x\ample.com", "AKIA\e[0mIOSF…", "ghp_\e[1mabc…": the terminal shows them
 * whole). A space on either side keeps it a boundary ("ok\e[0m 42").
 */
export function escapeJoins(left: number, right: number): boolean {
  if (left === 64 || right === 64) return true; // '@'
  if ((isDigit(left) && (isDigit(right) || isNumberSeparator(right))) || (isNumberSeparator(left) && isDigit(right))) return true;
  return inToken(left) && inToken(right);
}

/** A character of an address or a key: letters, digits, "_.%+-". */
function inToken(c: number): boolean {
  return has(c, F_LOCAL) || c === 95;
}

/**
 * If the escape chain at `esc` (the first escape start of the chain) joins two parts of a value,
 * the index just past the chain, else -1.
 */
export function joiningChainEnd(text: string, esc: number): number {
  if (esc === 0) return -1;
  const end = chainEnd(text, esc);
  if (end === esc || end >= text.length) return -1;
  return escapeJoins(text.charCodeAt(esc - 1), text.charCodeAt(end)) ? end : -1;
}
