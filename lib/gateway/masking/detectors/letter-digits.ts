/**
 * Letters written for digits: 'O'/'o' for 0, 'l'/'I' for 1 ("4111 1111 1111 111l",
 * "l23-45-6789"). A reader turns them back, so they are read as digits, but only inside a run of
 * number groups that is mostly digits already: words are made of the same letters ("lol", "Oslo",
 * "I"), and folding them everywhere would run numbers and words together.
 *
 * A run: groups of digits and those letters only (each a whole word: "Oslo" or "1f0e" is not a
 * group), joined by single separators (space, tab, "-._/,"). Its letters are read as digits when
 * it holds at least MIN_DIGITS digits and at least DIGITS_PER_LETTER digits for each such letter:
 * a card with a letter or four, an SSN with one or two. "4lll llll llll llll" (one digit) is not.
 */
import { F_WORD, FLAGS } from "./chars";
import { isEscapeStart, scanResume } from "./escapes";

const MIN_DIGITS = 6;
const DIGITS_PER_LETTER = 3;

/** The digit a letter is read as, or -1. */
export function letterDigit(c: number): number {
  if (c === 79 || c === 111) return 48; // O o
  if (c === 108 || c === 73) return 49; // l I
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isSeparator(c: number): boolean {
  return c === 32 || c === 9 || c === 45 || c === 46 || c === 95 || c === 47 || c === 44;
}

function isWordChar(c: number): boolean {
  return c < 128 && (FLAGS[c] & F_WORD) !== 0;
}

/**
 * Per position of `text`, 1 where a letter is read as a digit (see above); null when none is.
 * Linear: each character is looked at a bounded number of times.
 */
export function markLetterDigits(text: string): Uint8Array | null {
  const n = text.length;
  let marks: Uint8Array | null = null;
  // a run starts with a group at a word boundary; an escape sequence is one, as for the scanner
  let boundary = true;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (isEscapeStart(c)) {
      i = scanResume(text, i);
      boundary = true;
      continue;
    }
    if (!boundary || groupEnd(text, i) < 0) {
      boundary = !isWordChar(c);
      i++;
      continue;
    }
    let digits = 0;
    let letters = 0;
    let p = i;
    let end = i;
    for (;;) {
      const g = groupEnd(text, p);
      if (g < 0) break;
      for (let k = p; k < g; k++) {
        if (isDigit(text.charCodeAt(k))) digits++;
        else letters++;
      }
      end = g;
      if (g + 1 < n && isSeparator(text.charCodeAt(g)) && groupEnd(text, g + 1) > 0) p = g + 1;
      else break;
    }
    if (letters > 0 && digits >= MIN_DIGITS && digits >= DIGITS_PER_LETTER * letters) {
      marks ??= new Uint8Array(n);
      for (let k = i; k < end; k++) if (letterDigit(text.charCodeAt(k)) >= 0) marks[k] = 1;
    }
    i = end; // a group ends before a character that is not a word's
    boundary = false;
  }
  return marks;
}

/** End of the group (a whole word of digits and look-alike letters) at `p`, or -1. */
function groupEnd(text: string, p: number): number {
  let q = p;
  while (q < text.length) {
    const c = text.charCodeAt(q);
    if (!isDigit(c) && letterDigit(c) < 0) break;
    q++;
  }
  if (q === p || (q < text.length && isWordChar(text.charCodeAt(q)))) return -1;
  return q;
}
