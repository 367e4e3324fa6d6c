/**
 * The single pass that runs every built-in detector over a string.
 *
 * Instead of running fourteen regexes per value, one loop walks the text once. At each word
 * boundary it looks the first character up in a trigger table built for the enabled detectors
 * and only then calls the detectors that can start with that character; a plain word is skipped
 * in one tight loop. Text with no digits, no '@', no ':' next to hex and no secret prefix never
 * reaches a detector at all: that is the fast path.
 *
 * Matches never overlap and are reported in order. Terminal escape sequences (escapes.ts: CSI,
 * control strings, short escapes, C1 controls) are skipped and act as boundaries, so a colour
 * code is never masked or split; except between the parts of a value ("4111 \x1b[1m1111 …"),
 * where the folding pass joins them. The payload of a control string (a title) is read as text.
 */
import { F_WORD, FLAGS, K_AWS, K_EMAIL, K_GITHUB, K_GOOGLE, K_IBAN, K_IPV6, K_JWT, K_PHONE, K_PRIVATE_KEY, K_SLACK, K_STRIPE, bit, type MatchOut } from "./chars";
import { matchEmail } from "./email";
import { matchIban } from "./iban";
import { matchIpv6 } from "./ipv6";
import { NUMBER_KINDS, matchNumber } from "./numbers";
import { matchPrivateKey } from "./private-key";
import { matchSecret } from "./secrets";
import { encodedAtSignAt } from "./encoded";
import { joiningChainEnd, scanResume } from "./escapes";
import { foldText, foldsAt } from "./fold";
import { codeUnits } from "./units";

const T_NONE = 0;
const T_WORD = 1;
const T_DIGIT = 2;
const T_UPPER = 3;
const T_HEX_LOWER = 4;
const T_SECRET_LOWER = 5;
const T_AT = 6;
const T_PHONE_START = 7;
const T_DASH = 8;
const T_COLON = 9;
const T_ESC = 10;
const T_ENCODED = 11;

/** Sorted, non-overlapping [start, end) ranges with a kind each; grows, never shrinks. */
export class RangeList {
  starts = new Int32Array(32);
  ends = new Int32Array(32);
  kinds = new Int32Array(32);
  length = 0;

  push(start: number, end: number, kind: number): void {
    if (this.length === this.starts.length) this.grow();
    this.starts[this.length] = start;
    this.ends[this.length] = end;
    this.kinds[this.length] = kind;
    this.length++;
  }

  clear(): void {
    this.length = 0;
  }

  private grow(): void {
    const size = this.starts.length * 2;
    const copy = (a: Int32Array) => {
      const b = new Int32Array(size);
      b.set(a);
      return b;
    };
    this.starts = copy(this.starts);
    this.ends = copy(this.ends);
    this.kinds = copy(this.kinds);
  }
}

/** Merge two sorted disjoint lists into `out`; on overlap the range from `first` wins. */
export function mergeRanges(first: RangeList, second: RangeList, out: RangeList): void {
  out.clear();
  let a = 0;
  let lastEnd = 0;
  for (let b = 0; b <= second.length; b++) {
    const bStart = b < second.length ? second.starts[b] : Number.MAX_SAFE_INTEGER;
    while (a < first.length && first.starts[a] <= bStart) {
      out.push(first.starts[a], first.ends[a], first.kinds[a]);
      lastEnd = first.ends[a];
      a++;
    }
    if (b === second.length) break;
    const overlapsNextFirst = a < first.length && second.ends[b] > first.starts[a];
    if (bStart < lastEnd || overlapsNextFirst) continue;
    out.push(bStart, second.ends[b], second.kinds[b]);
    lastEnd = second.ends[b];
  }
}

/** Per-detector-set dispatch table: which handler (if any) a character at a boundary needs. */
export function buildTriggerTable(mask: number): Uint8Array {
  const t = new Uint8Array(128);
  const on = (kind: number) => (mask & bit(kind)) !== 0;
  for (let c = 0; c < 128; c++) if (FLAGS[c] & F_WORD) t[c] = T_WORD;
  const set = (chars: string, trigger: number) => {
    for (const ch of chars) t[ch.charCodeAt(0)] = trigger;
  };
  if (mask & (NUMBER_KINDS | bit(K_IPV6))) set("0123456789", T_DIGIT);
  if (on(K_IBAN) || on(K_AWS) || on(K_GOOGLE)) set("ABCDEFGHIJKLMNOPQRSTUVWXYZ", T_UPPER);
  else if (on(K_IPV6)) set("ABCDEF", T_UPPER);
  if (on(K_IPV6)) set("abcdef", T_HEX_LOWER);
  else if (on(K_JWT)) set("e", T_HEX_LOWER);
  if (on(K_GITHUB)) set("g", T_SECRET_LOWER);
  if (on(K_SLACK)) set("x", T_SECRET_LOWER);
  if (on(K_STRIPE)) set("rs", T_SECRET_LOWER);
  if (on(K_EMAIL)) set("@", T_AT);
  if (on(K_PHONE)) set("+(", T_PHONE_START);
  if (on(K_PRIVATE_KEY)) set("-", T_DASH);
  if (on(K_IPV6)) set(":", T_COLON);
  if (on(K_EMAIL)) set("%&\\", T_ENCODED);
  t[27] = T_ESC;
  return t;
}

const match: MatchOut = { start: 0, end: 0, kind: 0 };
const COLON = 58;

/**
 * Append every built-in match in `text` to `out` (which the caller cleared). A text with
 * characters that fold (full-width digits, NBSP, zero-width spaces, '＠', see fold.ts) is scanned
 * again in folded form, and what that finds is reported at the original positions.
 */
export function scanBuiltins(text: string, mask: number, table: Uint8Array, out: RangeList): void {
  if (!scanPass(text, mask, table, rawRanges)) {
    copyRanges(rawRanges, out);
    return;
  }
  const folded = foldText(text);
  foldedRanges.clear();
  scanPass(folded.text, mask, table, foldedRanges);
  for (let r = 0; r < foldedRanges.length; r++) {
    foldedRanges.starts[r] = folded.starts[foldedRanges.starts[r]];
    foldedRanges.ends[r] = folded.ends[foldedRanges.ends[r] - 1];
  }
  // Folding only adds: what the plain pass found stays where no folded match overlaps it
  // ("bob@x.org–4111…": the en dash, folded to '-', glues the address to the card).
  mergeRanges(foldedRanges, rawRanges, out);
}

// Scratch for scanBuiltins (synchronous, never re-entered).
const rawRanges = new RangeList();
const foldedRanges = new RangeList();

function copyRanges(from: RangeList, to: RangeList): void {
  for (let r = 0; r < from.length; r++) to.push(from.starts[r], from.ends[r], from.kinds[r]);
}

/** One scan; returns true when the text has characters that fold (the matches are then incomplete). */
function scanPass(text: string, mask: number, table: Uint8Array, out: RangeList): boolean {
  out.clear();
  const n = text.length;
  const u = codeUnits(text);
  let folds = false;
  let i = 0;
  // No match may start before `guard`: the end of the previous match or escape sequence.
  let guard = 0;
  // The end of the last escape sequence: its final byte ("\x1b7", "\x1b[1m") is not a word.
  let sequenceEnd = -1;
  while (i < n) {
    const c = u[i];
    if (c >= 128) {
      if (c <= 0x9f) {
        // a C1 control: an 8-bit escape sequence ("\x9b1m"), like ESC below
        if (!folds && joiningChainEnd(text, i) > 0) folds = true;
        i = guard = sequenceEnd = scanResume(text, i);
        continue;
      }
      if (!folds && foldsAt(u, i)) folds = true;
      i++;
      continue;
    }
    const t = table[c];
    if (t === T_NONE) {
      i++;
      continue;
    }
    let found = false;
    let resume = i + 1;
    if (t <= T_SECRET_LOWER) {
      // A word: only its first character can start a match. Find its end first, because the
      // cheap pre-checks below (word length, what follows it) rule out almost every word
      // before any detector is called.
      let e = i + 1;
      while (e < n) {
        const w = u[e];
        if (w >= 128 || (FLAGS[w] & F_WORD) === 0) break;
        e++;
      }
      resume = e;
      if (t !== T_WORD) {
        // IPv6 needs a group of at most 4 hex digits followed by ':'.
        const v6 = (mask & bit(K_IPV6)) !== 0 && e - i <= 4 && u[e] === COLON;
        switch (t) {
          case T_DIGIT:
            if (v6 && matchIpv6(u, i, n, match)) found = true;
            else if (mask & NUMBER_KINDS && mayBeNumber(u, i, e, n)) {
              found = matchNumber(text, u, i, n, mask, match);
              if (!found && match.end > e) resume = match.end;
            }
            break;
          case T_UPPER:
            found =
              (c === 65 && mayBeKeyPrefix(u, i) && matchSecret(text, u, i, n, c, mask, match)) ||
              ((mask & bit(K_IBAN)) !== 0 && e - i >= 4 && matchIban(text, u, i, n, match)) ||
              (v6 && matchIpv6(u, i, n, match));
            break;
          case T_HEX_LOWER:
            found = (c === 101 && u[i + 1] === 121 && matchSecret(text, u, i, n, c, mask, match)) || (v6 && matchIpv6(u, i, n, match));
            break;
          case T_SECRET_LOWER:
            found = e - i >= 4 && mayBeLowerPrefix(u, i, c) && matchSecret(text, u, i, n, c, mask, match);
            break;
        }
      }
    } else {
      switch (t) {
        case T_AT:
          found = matchEmail(u, i, n, guard, match);
          break;
        case T_PHONE_START:
          found = startsNumber(u, i, n, sequenceEnd) && matchNumber(text, u, i, n, mask & bit(K_PHONE), match, true);
          break;
        case T_DASH:
          found = u[i + 1] === 45 && matchPrivateKey(text, i, n, match);
          break;
        case T_COLON:
          found = u[i + 1] === COLON && (i === sequenceEnd || !isWordAt(u, i - 1)) && matchIpv6(u, i, n, match);
          break;
        case T_ESC:
          resume = guard = sequenceEnd = scanResume(text, i);
          if (!folds && joiningChainEnd(text, i) > 0) folds = true; // "4111 \x1b[1m1111 …": fold.ts joins it
          break;
        case T_ENCODED:
          if (!folds && encodedAtSignAt(text, i)) folds = true; // "bob%40example.com": fold.ts decodes it
          break;
      }
    }
    if (found) {
      // An email is found at its '@', after the scan has passed its local part: that range
      // starts before i but never before guard, so the list stays sorted and disjoint.
      out.push(match.start, match.end, match.kind);
      i = guard = match.end;
    } else i = resume;
  }
  return folds;
}

/**
 * Digit-led word [i, e): worth a full number parse only if it ends in a digit and either is
 * card-length, holds '_' ("123_45_6789"), or continues with a separator and another digit
 * ("555-", "10.", "4111 ").
 */
function mayBeNumber(u: Uint16Array, i: number, e: number, n: number): boolean {
  const last = u[e - 1];
  if (last < 48 || last > 57) return false; // "12ms", "8f3a": letters inside
  const len = e - i;
  if (len >= 13 && len <= 19) return true;
  if (len >= 7 && hasUnderscore(u, i, e)) return true; // "123_45_6789"
  if (e >= n) return false;
  const sep = u[e];
  // space, '-', '.', ')', '/', ':', '|', tab, ',' (numbers.ts)
  if (sep !== 32 && sep !== 45 && sep !== 46 && sep !== 41 && sep !== 47 && sep !== 58 && sep !== 124 && sep !== 9 && sep !== 44) return false;
  let next = u[e + 1];
  if (sep === 44 && next === 32) next = u[e + 2]; // ", "
  return next >= 48 && next <= 57;
}

function hasUnderscore(u: Uint16Array, i: number, e: number): boolean {
  for (let p = i + 1; p < e; p++) if (u[p] === 95) return true;
  return false;
}

/** "gh"/"gi" (GitHub), "xo" (Slack), "sk_"/"rk_" (Stripe): two compares before any string call. */
function mayBeLowerPrefix(u: Uint16Array, i: number, c: number): boolean {
  const next = u[i + 1];
  if (c === 103) return next === 104 || next === 105;
  if (c === 120) return next === 111;
  return next === 107 && u[i + 2] === 95;
}

/** "AK", "AS" (AWS) or "AI" (Google). */
function mayBeKeyPrefix(u: Uint16Array, i: number): boolean {
  const c = u[i + 1];
  return c === 75 || c === 83 || c === 73;
}

/** '+' or '(' begins a phone only at a boundary and when a digit (or "(" digit) follows. */
function startsNumber(u: Uint16Array, i: number, n: number, sequenceEnd: number): boolean {
  if ((i !== sequenceEnd && isWordAt(u, i - 1)) || i + 1 >= n) return false;
  let next = u[i + 1];
  if (next === 40 && u[i] === 43) next = u[i + 2]; // "+(" is not a format, but "+(44)" is seen
  return next >= 48 && next <= 57;
}

function isWordAt(u: Uint16Array, p: number): boolean {
  if (p < 0) return false;
  const c = u[p];
  return c < 128 && (FLAGS[c] & F_WORD) !== 0;
}
