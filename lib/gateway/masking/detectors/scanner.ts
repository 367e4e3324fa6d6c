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
import { F_ENTITY, F_WORD, FLAGS, K_AWS, K_EMAIL, K_GITHUB, K_GOOGLE, K_IBAN, K_IPV6, K_JWT, K_PHONE, K_PRIVATE_KEY, K_SLACK, K_STRIPE, bit, type MatchOut } from "./chars";
import { matchEmail } from "./email";
import { matchIban } from "./iban";
import { matchIpv6 } from "./ipv6";
import { NUMBER_KINDS, matchNumber } from "./numbers";
import { matchPrivateKey } from "./private-key";
import { matchSecret } from "./secrets";
import { encodedAtSignAt } from "./encoded";
import { ESC_INCOMPLETE, joiningChainEnd, lastEscapeStart, scanResume, sequenceEnd } from "./escapes";
import { foldText, foldsAt } from "./fold";
import { letterDigit, markLetterDigits } from "./letter-digits";
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
  const found = scanPass(text, mask, table, rawRanges);
  if (found === 0) {
    copyRanges(rawRanges, out);
    return;
  }
  if ((found & (FOLDS | HAS_SOFT_BREAKS)) === 0) {
    foldedRanges.clear();
  } else if (found === HAS_SOFT_BREAKS) {
    // Nothing else folds: only the text around each soft break can read differently folded.
    scanSoftWindows(text, mask, table, foldedRanges);
  } else {
    scanFolded(text, 0, mask, table, foldedRanges);
    if (found & HAS_SOFT_BREAKS) {
      // Joining lines only adds too: a value on the next line that needs folding ("4111 …" /
      // "４１１１ …") may vanish into an overlong joined run, so it is also read with the lines
      // apart, and with the parts side by side (a value a line holds whole, then one folded).
      scanFolded(text, 10, mask, table, apartRanges);
      unionRanges(foldedRanges, apartRanges, joinedRanges);
      scanFolded(text, 32, mask, table, apartRanges);
      unionRanges(joinedRanges, apartRanges, foldedRanges);
    }
  }
  if (found & LETTER_DIGITS) {
    // "4111 1111 1111 111l": read with the look-alike letters of mostly-digit runs as digits
    const marks = markLetterDigits(text);
    if (marks) {
      scanFolded(text, 0, mask, table, apartRanges, 0, marks);
      unionRanges(foldedRanges, apartRanges, joinedRanges);
      copyRanges(joinedRanges, foldedRanges);
    }
  }
  // Folding only adds: what the plain pass found stays masked, joined with a folded match that
  // overlaps it ("bob@x.org–4111…": the en dash, folded to '-', glues the address to the card; a
  // line of its own "4111 1111 1111 1111" and the next, joined by a soft break, wrap.ts).
  unionRanges(foldedRanges, rawRanges, out);
}

/** Merge two sorted disjoint lists into `out`, overlapping ranges joined into one (of the kind that starts first, `first` on a tie). */
function unionRanges(first: RangeList, second: RangeList, out: RangeList): void {
  out.clear();
  let a = 0;
  let b = 0;
  while (a < first.length || b < second.length) {
    const fromFirst = b >= second.length || (a < first.length && first.starts[a] <= second.starts[b]);
    const list = fromFirst ? first : second;
    const r = fromFirst ? a++ : b++;
    const last = out.length - 1;
    if (last >= 0 && list.starts[r] < out.ends[last]) out.ends[last] = Math.max(out.ends[last], list.ends[r]);
    else out.push(list.starts[r], list.ends[r], list.kinds[r]);
  }
}

/** The matches of `text` folded (fold.ts; soft breaks as `softAs`), at their original positions (+ `offset`), into `out`. */
function scanFolded(text: string, softAs: number, mask: number, table: Uint8Array, out: RangeList, offset = 0, letterDigits: Uint8Array | null = null): void {
  const folded = foldText(text, softAs, letterDigits);
  scanPass(folded.text, mask, table, out);
  for (let r = 0; r < out.length; r++) {
    out.starts[r] = folded.starts[out.starts[r]] + offset;
    out.ends[r] = folded.ends[out.ends[r] - 1] + offset;
  }
}

/** How far around a soft break a value joined by it can reach (a grouped IBAN is the longest, 42). */
const SOFT_WINDOW = 48;
/** How far a window's edge moves out of a run of value characters (an email, a key). */
const SOFT_WIDEN = 256;

/** Whether text[p] is a character a match holds (a space only between digits): a window's edge is not put next to one. */
function inRun(text: string, p: number): boolean {
  const c = text.charCodeAt(p);
  if (c === 32) return isDigitCode(text.charCodeAt(p - 1)) || isDigitCode(text.charCodeAt(p + 1));
  return c < 128 ? (FLAGS[c] & F_ENTITY) !== 0 : c !== 0x2063 && c !== 0x2064;
}

function isDigitCode(c: number): boolean {
  return c >= 48 && c <= 57;
}

/**
 * The matches of `text` with its soft breaks dropped, read in windows around them (merged where
 * they meet, widened to word boundaries), into `out`. Only for a text where nothing else folds:
 * dropping the stand-ins is then all the folding there is, and the rest reads the same.
 */
function scanSoftWindows(text: string, mask: number, table: Uint8Array, out: RangeList): void {
  out.clear();
  const n = text.length;
  const count = softBreaksOf(text);
  for (let a = 0; a < count; ) {
    let b = a + 1; // the window holds stand-ins [a, b)
    while (b < count && softs[b] - softs[b - 1] <= 2 * SOFT_WINDOW) b++;
    let from = Math.max(0, softs[a] - SOFT_WINDOW);
    let to = Math.min(n, softs[b - 1] + 1 + SOFT_WINDOW);
    // An edge inside a run of value characters could cut a match the join makes ("1234" /
    // "5678@x.com"), or make one ("…1111 1111 1111 1111", cut after its first group); an edge
    // inside an escape sequence would read its parameters as text.
    for (let k = 0; k < SOFT_WIDEN && from > 0 && inRun(text, from - 1); k++) from--;
    for (let k = 0; k < SOFT_WIDEN && to < n && inRun(text, to); k++) to++;
    const esc = lastEscapeStart(text, from, Math.max(0, from - SOFT_WIDEN));
    if (esc >= 0 && (sequenceEnd(text, esc) > from || sequenceEnd(text, esc) === ESC_INCOMPLETE)) from = esc;
    const last = lastEscapeStart(text, to, from);
    if (last >= 0) {
      const end = sequenceEnd(text, last);
      if (end === ESC_INCOMPLETE) to = n;
      else if (end > to) to = end;
    }
    scanJoined(text, from, to, a, b, mask, table, out);
    a = b;
  }
}

/**
 * Scan text[from, to) with the stand-ins softs[a, b) dropped, and again read as spaces (the
 * parts side by side: "4111 1111 1111 1111" / "5500 0000 00" / "00 0004" joins neither the
 * first card to the second nor loses it); append the union at original positions.
 */
function scanJoined(text: string, from: number, to: number, a: number, b: number, mask: number, table: Uint8Array, out: RangeList): void {
  let joined = "";
  let spaced = "";
  let copied = from;
  for (let k = a; k < b; k++) {
    const part = text.slice(copied, softs[k]);
    joined += part;
    spaced += `${part} `;
    copied = softs[k] + 1;
  }
  const tail = text.slice(copied, to);
  scanPass(joined + tail, mask, table, windowRanges);
  // joined index j -> original: j + the stand-ins dropped before it (the k-th sits at joined index
  // softs[k] - from - (k - a)); one right after a match's last character is not its own (the
  // folding pass gives it to no character either): the break stays
  joinedRanges.clear();
  let k = a;
  for (let r = 0; r < windowRanges.length; r++) {
    const start = windowRanges.starts[r];
    while (k < b && softs[k] - from - (k - a) <= start) k++;
    let e = k;
    while (e < b && softs[e] - from - (e - a) < windowRanges.ends[r]) e++;
    joinedRanges.push(from + start + (k - a), from + windowRanges.ends[r] + (e - a), windowRanges.kinds[r]);
  }
  scanPass(spaced + tail, mask, table, windowRanges);
  for (let r = 0; r < windowRanges.length; r++) {
    windowRanges.starts[r] += from;
    windowRanges.ends[r] += from;
  }
  unionRanges(joinedRanges, windowRanges, apartRanges);
  for (let r = 0; r < apartRanges.length; r++) out.push(apartRanges.starts[r], apartRanges.ends[r], apartRanges.kinds[r]);
}

// Scratch for scanBuiltins (synchronous, never re-entered).
const rawRanges = new RangeList();
const foldedRanges = new RangeList();
const apartRanges = new RangeList();
const joinedRanges = new RangeList();
const windowRanges = new RangeList();

function copyRanges(from: RangeList, to: RangeList): void {
  to.clear();
  for (let r = 0; r < from.length; r++) to.push(from.starts[r], from.ends[r], from.kinds[r]);
}

/** positions of the stand-ins in the text scanSoftWindows reads (grows as needed) */
let softs = new Int32Array(64);

/** Fills `softs` with the positions of the stand-ins in `text`, in order; returns how many. */
function softBreaksOf(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x2063 && c !== 0x2064) continue; // SOFT_LF, SOFT_CRLF
    if (count === softs.length) {
      const grown = new Int32Array(count * 2);
      grown.set(softs);
      softs = grown;
    }
    softs[count++] = i;
  }
  return count;
}

/** scanPass found characters that fold, other than soft-break stand-ins */
const FOLDS = 1;
/** scanPass found soft-break stand-ins (wrap.ts) */
const HAS_SOFT_BREAKS = 2;
/** scanPass found a number next to or holding a letter that reads as a digit (letter-digits.ts) */
const LETTER_DIGITS = 4;

/** One scan; returns FOLDS | HAS_SOFT_BREAKS for what the text holds that folds (the matches are then incomplete), else 0. */
function scanPass(text: string, mask: number, table: Uint8Array, out: RangeList): number {
  out.clear();
  const n = text.length;
  const u = codeUnits(text);
  let folds = false;
  let soft = false;
  let letters = false;
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
      if (c === 0x2063 || c === 0x2064) soft = true; // SOFT_LF, SOFT_CRLF
      else if (!folds && foldsAt(u, i)) folds = true;
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
      if (!letters && (t === T_DIGIT ? nearLetterDigit(u, i, e, n) : letterDigit(c) >= 0 && e - i <= 19 && isLetterDigitGroup(u, i + 1, e))) letters = true;
      if (t !== T_WORD) {
        // IPv6 needs a group of at most 4 hex digits followed by ':'.
        const v6 = (mask & bit(K_IPV6)) !== 0 && e - i <= 4 && u[e] === COLON;
        switch (t) {
          case T_DIGIT:
            if (v6 && matchIpv6(u, i, n, match)) found = true;
            else if (mask & NUMBER_KINDS && mayBeNumber(u, i, e, n)) {
              found = matchNumber(text, u, i, n, mask, match);
              if (!found && match.end > e) resume = match.end;
              // the chain stopped at a letter that reads as a digit ("4111 1111 1111 111l")
              if (!found && !letters && match.end < n && letterDigit(u[match.end]) >= 0) letters = true;
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
  return (folds ? FOLDS : 0) | (soft ? HAS_SOFT_BREAKS : 0) | (letters ? LETTER_DIGITS : 0);
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

/**
 * A digit-led word [i, e) holding a letter read as a digit, or next to a whole word of digits and
 * such letters, a single separator away ("1111 llll", "lI-45-6789"); not "12 lines" or "5 of".
 */
function nearLetterDigit(u: Uint16Array, i: number, e: number, n: number): boolean {
  for (let p = i + 1; p < e; p++) if (letterDigit(u[p]) >= 0) return true;
  if (e + 1 < n && letterDigit(u[e + 1]) >= 0 && !isWordAt(u, e)) {
    let p = e + 1;
    while (p < n && (letterDigit(u[p]) >= 0 || (u[p] >= 48 && u[p] <= 57))) p++;
    if (p >= n || !isWordAt(u, p)) return true;
  }
  if (i >= 2 && letterDigit(u[i - 2]) >= 0 && !isWordAt(u, i - 1)) {
    let p = i - 2;
    while (p >= 0 && (letterDigit(u[p]) >= 0 || (u[p] >= 48 && u[p] <= 57))) p--;
    if (p < 0 || !isWordAt(u, p)) return true;
  }
  return false;
}

/** [from, to) is digits and letters read as digits only, with a digit ("l23", not "oscar29"). */
function isLetterDigitGroup(u: Uint16Array, from: number, to: number): boolean {
  let digit = false;
  for (let p = from; p < to; p++) {
    if (u[p] >= 48 && u[p] <= 57) digit = true;
    else if (letterDigit(u[p]) < 0) return false;
  }
  return digit;
}

function isWordAt(u: Uint16Array, p: number): boolean {
  if (p < 0) return false;
  const c = u[p];
  return c < 128 && (FLAGS[c] & F_WORD) !== 0;
}
