/**
 * Digit-led detectors: payment cards, US SSNs, IPv4 addresses and phone numbers.
 *
 * They share one parse: from a word boundary, read a chain of digit groups joined by single
 * separators (space, dash, dot, '_', '/', '|', ':', tab, ',' or ", ", or parentheses around a group) into fixed
 * scratch arrays. Then every sub-chain that starts at the chain start or after a space (or ':',
 * '/', '|'), and ends at the chain end or before one, is tried against each format, earliest
 * start first, longest first. Not cutting at '-', '.' or '_' means "call 555-123-4567 2 times" and "order 12 555-123-4567" still find the
 * phone, while "555-123-4567-89" (some other identifier) and "1.10.0.0.1" yield nothing.
 * One parse per chain keeps number-dense text (tables, logs) linear.
 *
 * Which separators each format accepts (uniform within a value):
 * - card: space or dash; '_', '/', '|', ':', '.', tab or ',' only in three or more groups of 3-6
 *   digits ("4111_1111_1111_1111", a PostgreSQL array "{4111,1111,1111,1111}"; not a float
 *   "3.1415926535897932", a version "4.1111.1111.1111.1" or thousands "234,567,890,123,456")
 * - SSN: dash, '_', '/' or '.' ("123_45_6789"); not space, tab or ',' (tables of numbers), '|' or ':'
 * - phone: any but '|', ':', tab and ',' (columns, times and MAC-like runs "00:11:22:33:44"); not right
 *   after '/' ("/data/0123/456789" is a path)
 * - IPv4: dots only
 */
import { luhnValid, ssnValid } from "../checksums";
import { matchEmail } from "./email";
import { F_WORD, FLAGS, K_CARD, K_IPV4, K_PHONE, K_SSN, bit, type MatchOut } from "./chars";

const MAX_GROUPS = 12;
const SPACE = 32;
const DASH = 45;
const DOT = 46;
const PLUS = 43;
const LPAREN = 40;
const RPAREN = 41;
const AT = 64;
const UNDERSCORE = 95;
const SLASH = 47;
const PIPE = 124;
const COLON = 58;
const TAB = 9;
const COMMA = 44;
/** separator code meaning "the previous group was closed by ')'" */
const PAREN = 1;
/** no format has fewer digits (IPv4 "1.1.1.1") or more (a 19-digit card) */
const MIN_DIGITS = 4;
const MAX_DIGITS = 19;

// Module-level scratch: the scanner is synchronous and never re-enters, so one set suffices.
const gStart = new Int32Array(MAX_GROUPS);
const gEnd = new Int32Array(MAX_GROUPS);
/** separator before group k (0 for the first) */
const gSep = new Uint16Array(MAX_GROUPS);
/** 1 if group k was written inside parentheses */
const gParen = new Uint8Array(MAX_GROUPS);
const emailProbe: MatchOut = { start: 0, end: 0, kind: 0 };
/** digitsBefore[k] = number of digits in groups 0..k-1 */
const digitsBefore = new Int32Array(MAX_GROUPS + 1);

export const NUMBER_KINDS = bit(K_CARD) | bit(K_SSN) | bit(K_IPV4) | bit(K_PHONE);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * Try the number detectors at `i` (a digit, or '+'/'(' followed by a digit, at a word
 * boundary). On success fills `out` (start, end, kind) and returns true. On failure returns
 * false and sets `out.end` to the index the scanner should resume at (always > i).
 * `fromStartOnly`: only sub-chains starting at `i` (the scanner's '+'/'(' trigger, which tries the
 * phone format alone: a later sub-chain is left to the digit scan, which tries every format, so a
 * card between "+0" and a phone-like group is still found).
 */
export function matchNumber(text: string, u: Uint16Array, i: number, n: number, mask: number, out: MatchOut, fromStartOnly = false): boolean {
  let pos = i;
  let plus = false;
  let paren = false;
  if (u[pos] === PLUS) {
    plus = true;
    pos++;
  }
  if (u[pos] === LPAREN) {
    paren = true;
    pos++;
  }
  const groups = parseChain(u, pos, n, paren);
  out.end = groups > 0 ? gEnd[groups - 1] : i + 1;
  if (groups === 0 || digitsBefore[groups] < MIN_DIGITS) return false;
  for (let s = 0; s < (fromStartOnly ? 1 : groups); s++) {
    if (s > 0 && !isCut(gSep[s])) continue;
    if (digitsBefore[groups] - digitsBefore[s] < MIN_DIGITS) break;
    const start = s === 0 ? i : gParen[s] ? gStart[s] - 1 : gStart[s];
    const prev = start > 0 ? u[start - 1] : SPACE;
    for (let g = groups; g > s; g--) {
      if (g < groups && !isCut(gSep[g])) continue;
      const digits = digitsBefore[g] - digitsBefore[s];
      if (digits > MAX_DIGITS) continue;
      if (digits < MIN_DIGITS) break;
      if (!rightBoundaryOk(u, gEnd[g - 1], n)) continue;
      // "+1 555-123-4567 4111 1111 1111 1111": up to 15 digits fit an international number, but
      // the groups that begin a card are the card's.
      if (fromStartOnly && cardRunsPast(text, u, s, g, groups, n)) continue;
      const kind = classify(text, u, s, g, digits, s === 0 && plus, prev, mask);
      if (kind >= 0) {
        out.start = start;
        out.end = gEnd[g - 1];
        out.kind = kind;
        return true;
      }
    }
  }
  return false;
}

/** Fill the group arrays from `pos`; returns the number of groups. */
function parseChain(u: Uint16Array, pos: number, n: number, paren: boolean): number {
  let groups = 0;
  let sep = 0;
  for (;;) {
    const s = pos;
    while (pos < n && isDigit(u[pos])) pos++;
    if (pos === s) return groups;
    gStart[groups] = s;
    gEnd[groups] = pos;
    gSep[groups] = sep;
    gParen[groups] = paren ? 1 : 0;
    digitsBefore[groups + 1] = digitsBefore[groups] + (pos - s);
    groups++;
    if (groups === MAX_GROUPS) return groups;
    let c = u[pos];
    if (paren) {
      if (c !== RPAREN) return groups;
      paren = false;
      pos++;
      sep = PAREN;
      c = u[pos];
      if (isDigit(c)) continue; // "+44 (0)20 ..."
      if ((c === SPACE || c === DASH) && isDigit(u[pos + 1])) {
        pos++;
        continue;
      }
      return groups;
    }
    const next = u[pos + 1];
    if (isSeparator(c) && isDigit(next)) {
      sep = c;
      pos++;
    } else if (c === COMMA && next === SPACE && isDigit(u[pos + 2])) {
      sep = COMMA; // a list: "[4111, 1111, 1111, 1111]"
      pos += 2;
    } else if (c === SPACE && next === LPAREN && isDigit(u[pos + 2])) {
      sep = SPACE;
      paren = true;
      pos += 2;
    } else return groups;
  }
}

/**
 * Where a value may start or end inside a chain: a space, tab or ',', or ':', '/', '|'
 * ("10.0.0.1:5432", "192.168.1.0/24", "4111…:12/29", "1\t4111…\t12/29"); not '-', '.' or '_',
 * which continue an identifier ("555-123-4567-89").
 */
function isCut(sep: number): boolean {
  return sep === SPACE || sep === COLON || sep === SLASH || sep === PIPE || sep === TAB || sep === COMMA;
}

function isSeparator(c: number): boolean {
  return c === SPACE || c === DASH || c === DOT || c === UNDERSCORE || c === SLASH || c === PIPE || c === COLON || c === TAB || c === COMMA;
}

/** A payment card starts at a space-separated group inside [s, g) and ends after group g - 1. */
function cardRunsPast(text: string, u: Uint16Array, s: number, g: number, groups: number, n: number): boolean {
  for (let k = s + 1; k < g; k++) {
    if (gSep[k] !== SPACE) continue;
    for (let h = groups; h > g; h--) {
      if (h < groups && gSep[h] !== SPACE) continue;
      const digits = digitsBefore[h] - digitsBefore[k];
      if (digits > MAX_DIGITS) continue;
      if (digits < 13) break;
      if (rightBoundaryOk(u, gEnd[h - 1], n) && classify(text, u, k, h, digits, false, SPACE, bit(K_CARD)) === K_CARD) return true;
    }
  }
  return false;
}

function rightBoundaryOk(u: Uint16Array, end: number, n: number): boolean {
  if (end >= n) return true;
  const c = u[end];
  if (c < 128 && (FLAGS[c] & F_WORD) !== 0) return false;
  // "4111...@x.com" is an email (masked as one); "4111...@" with no address after it is not
  if (c === AT) return !matchEmail(u, end, n, 0, emailProbe);
  // "10.0.0.1.example" or "555-123-4567-x1": the token continues, so this is not its end.
  if (c === DASH || c === DOT) {
    const next = u[end + 1];
    if (next < 128 && (FLAGS[next] & F_WORD) !== 0) return false;
  }
  return true;
}

/** Which format the groups [s, g) form, or -1. */
function classify(text: string, u: Uint16Array, s: number, g: number, digits: number, plus: boolean, prev: number, mask: number): number {
  const count = g - s;
  const first = u[gStart[s]] - 48;
  const paren = hasParen(s, g);
  if (mask & bit(K_CARD) && !plus && !paren && digits >= 13 && first >= 2 && first <= 6) {
    if (uniformSeparators(s, g) && luhnValid(text, gStart[s], gEnd[g - 1])) return K_CARD;
  }
  if (mask & bit(K_SSN) && count === 3 && !plus && !paren && isSsnSeparator(gSep[s + 1]) && gSep[s + 2] === gSep[s + 1] && lengths(s, 3, 2, 4)) {
    if (ssnValid(numberAt(u, s), numberAt(u, s + 1), numberAt(u, s + 2))) return K_SSN;
  }
  if (mask & bit(K_IPV4) && count === 4 && !plus && !paren && prev !== DOT && isDottedQuad(u, s)) return K_IPV4;
  if (mask & bit(K_PHONE) && prev !== DOT && prev !== DASH && prev !== SLASH && phoneSeparators(s, g) && isPhone(u, s, count, digits, plus, paren, first)) return K_PHONE;
  return -1;
}

function isPhone(u: Uint16Array, s: number, count: number, digits: number, plus: boolean, paren: boolean, first: number): boolean {
  // E.164 allows at most 15 digits including the country code; 8 rules out "+1 23".
  if (plus) return digits >= 8 && digits <= 15;
  // North America: NXX-NXX-XXXX (area code starts 2-9), optionally preceded by a 1.
  if (count === 3 && first >= 2 && lengths(s, 3, 3, 4)) return true;
  if (count === 4 && first === 1 && gEnd[s] - gStart[s] === 1 && lengths(s + 1, 3, 3, 4)) return u[gStart[s + 1]] >= 50;
  // European national format: trunk prefix 0, written in groups (030 901820, 01 23 45 67 89).
  if (first === 0 && count >= 2 && !paren && digits >= 9 && digits <= 11 && gEnd[s] - gStart[s] <= 5) {
    for (let k = s; k < s + count; k++) if (gEnd[k] - gStart[k] < 2) return false;
    return true;
  }
  return false;
}

function isDottedQuad(u: Uint16Array, s: number): boolean {
  for (let k = s; k < s + 4; k++) {
    if (k > s && gSep[k] !== DOT) return false;
    const len = gEnd[k] - gStart[k];
    if (len > 3) return false;
    if (len > 1 && u[gStart[k]] === 48) return false; // leading zero: not an address
    if (numberAt(u, k) > 255) return false;
  }
  return true;
}

function hasParen(s: number, g: number): boolean {
  for (let k = s; k < g; k++) if (gParen[k]) return true;
  return false;
}

/**
 * Separators inside [s, g) are absent or all the same: space or dash, or another separator
 * between three or more groups of 3-6 digits.
 */
function uniformSeparators(s: number, g: number): boolean {
  const seen = g - s > 1 ? gSep[s + 1] : 0;
  for (let k = s + 2; k < g; k++) if (gSep[k] !== seen) return false;
  if (seen === 0 || seen === SPACE || seen === DASH) return true;
  if (seen === PAREN || g - s < 3) return false;
  let threes = 0;
  for (let k = s; k < g; k++) {
    const len = gEnd[k] - gStart[k];
    if (len < 3 || len > 6) return false;
    if (len === 3) threes++;
  }
  return seen !== COMMA || threes < g - s; // "234,567,890,123,456" is a number with thousands separators
}

function isSsnSeparator(sep: number): boolean {
  return sep === DASH || sep === UNDERSCORE || sep === SLASH || sep === DOT;
}

/** Columns ('|', tab, ',') and times or MAC-like runs (':') are not phone numbers. */
function phoneSeparators(s: number, g: number): boolean {
  for (let k = s + 1; k < g; k++) if (gSep[k] === PIPE || gSep[k] === COLON || gSep[k] === TAB || gSep[k] === COMMA) return false;
  return true;
}

function lengths(s: number, a: number, b: number, c: number): boolean {
  return gEnd[s] - gStart[s] === a && gEnd[s + 1] - gStart[s + 1] === b && gEnd[s + 2] - gStart[s + 2] === c;
}

function numberAt(u: Uint16Array, k: number): number {
  let v = 0;
  for (let p = gStart[k]; p < gEnd[k]; p++) v = v * 10 + (u[p] - 48);
  return v;
}
