/**
 * Terminal escape sequences inside a value. A CSI sequence (colour, cursor move) normally acts
 * as a boundary: it is never masked or split, and "\x1b[32m4111…" starts a new token. But a
 * program (or an agent that wants the value out) can print one between the digits of a card,
 * "4111 1111 \x1b[1m1111 1111", or around the '@' of an address: the terminal shows the value
 * whole, so it must be masked whole. Such a chain of sequences is dropped by the folding pass
 * (fold.ts), joining the parts, or read as a space between two digits (a group boundary, or two
 * values side by side that must not merge into one overlong run); the match then covers the
 * sequences, which are masked with it. Known gap: inside a group of a dash-grouped card
 * ("4111-11\x1b[1m11-…") the space makes the separators mixed, and no card is found.
 *
 * A chain joins when it sits between a digit and a digit or number separator (space, '-', '.')
 * or next to an '@'. Elsewhere ("ok\x1b[0m 42", a coloured prompt) it stays a boundary.
 */

const ESC = 27;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isNumberSeparator(c: number): boolean {
  return c === 32 || c === 45 || c === 46;
}

/** End of the CSI sequence at `esc` (ESC '[' params intermediates final); -1 if incomplete or not CSI. */
export function csiSequenceEnd(text: string, esc: number): number {
  if (text.charCodeAt(esc + 1) !== 91) return -1;
  let p = esc + 2;
  while (p < text.length && text.charCodeAt(p) >= 0x30 && text.charCodeAt(p) <= 0x3f) p++;
  while (p < text.length && text.charCodeAt(p) >= 0x20 && text.charCodeAt(p) <= 0x2f) p++;
  const c = text.charCodeAt(p);
  return c >= 0x40 && c <= 0x7e ? p + 1 : -1;
}

/** End of the run of complete CSI sequences starting at `esc` (esc itself when there is none). */
export function csiChainEnd(text: string, esc: number): number {
  let p = esc;
  while (text.charCodeAt(p) === ESC) {
    const end = csiSequenceEnd(text, p);
    if (end < 0) break;
    p = end;
  }
  return p;
}

/** Whether a character `left` before and `right` after an escape chain make one value of it. */
export function escapeJoins(left: number, right: number): boolean {
  if (left === 64 || right === 64) return true; // '@'
  return (isDigit(left) && (isDigit(right) || isNumberSeparator(right))) || (isNumberSeparator(left) && isDigit(right));
}

/**
 * If the escape chain at `esc` (the first ESC of the chain) joins two parts of a value, the
 * index just past the chain, else -1.
 */
export function joiningChainEnd(text: string, esc: number): number {
  if (esc === 0) return -1;
  const end = csiChainEnd(text, esc);
  if (end === esc || end >= text.length) return -1;
  return escapeJoins(text.charCodeAt(esc - 1), text.charCodeAt(end)) ? end : -1;
}
