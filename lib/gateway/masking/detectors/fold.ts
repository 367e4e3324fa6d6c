/**
 * Folding: the look-alikes a value can be written in, reduced to the ASCII the detectors read.
 *
 * A card in full-width digits ("４１１１ …"), Arabic-Indic digits, grouped with no-break or thin
 * spaces or U+2010 hyphens, an email with "＠" or "．", a number with a zero-width space or a soft
 * hyphen between its digits: a reader (human or model) sees the value, so it must be masked. The
 * scanner looks at ASCII only, so such a text is scanned a second time in folded form:
 *
 * - decimal digits of any script (Unicode Nd) → '0'..'9'
 * - space separators (NBSP, figure/thin/narrow spaces, ideographic space) → ' '
 * - dashes (U+2010–2015 and the other Pd), the minus sign U+2212 → '-'
 * - format characters (zero-width space/joiners, soft hyphen, bidi controls, BOM) and combining
 *   marks (diacritics, variation selectors, the keycap mark) → dropped
 * - compatibility forms whose NFKC is one ASCII letter, digit or "@.-+()_:/%=|," (full-width forms,
 *   small forms, mathematical letters and digits, circled digits, superscripts) → that character
 * - ideographic full stops (U+3002, U+FF61: label separators in IDNA) → '.'
 * - terminal escape sequences between the parts of a value ("4111 \x1b[1m1111…") → dropped, or
 *   a space between two digits
 * - '@' and '.' percent-, HTML- or backslash-encoded ("bob%40x.com", encoded.ts) → '@', '.'
 *
 * Matches found in the folded text are mapped back to the original positions, so the original
 * characters are what gets masked. The set of characters that fold is one character class
 * (FOLDABLE_CLASS); the prefilter knows the part of it a match can start with, so a long text
 * whose only digits are such characters still reaches the scanner. Not folded (a transform, not a spelling): reversed or re-ordered values,
 * confusables that are letters of another script (Cyrillic 'а' for 'a').
 */
import { Buffer } from "node:buffer";
import { encodedCharAt } from "./encoded";
import { letterDigit } from "./letter-digits";
import { chainEnd, escapeJoins, isEscapeStart } from "./escapes";

/**
 * Characters above U+007F that fold to what a match needs to start (digits of any script, and
 * compatibility forms such as '＠' or full-width letters), for a `u`-flag regex character class.
 * Folded spaces, dashes and dropped characters only join such characters: without one, folding
 * cannot make a match, so the prefilter looks for this class alone.
 */
export const FOLDED_EVIDENCE_CLASS =
  "\\p{Nd}\\u00aa\\u00b2\\u00b3\\u00b9\\u00ba\\u2024\\u2070-\\u209f\\u2460-\\u24ff\\u2776-\\u2793\\u3002\\ufe50-\\ufe6b\\uff01-\\uff5e\\uff61\\u{1d400}-\\u{1d7ff}\\u{1f100}-\\u{1f10c}";

/**
 * Dashes (Pd), the minus signs, and dash-likes used between digits: the katakana long vowel mark
 * ("090ー1234ー5678"), the hyphen bullet, the modifier minus, the heavy minus.
 */
const DASH_CLASS =
  "\\u058a\\u05be\\u1400\\u1806\\u2010-\\u2015\\u2e17\\u2e1a\\u2e3a\\u2e3b\\u2e40\\u301c\\u3030\\u30a0\\ufe31\\ufe32\\ufe58\\ufe63\\uff0d\\u2212\\u02d7\\u2043\\u2796\\u30fc\\uff70";
/** Dot-likes used between digits: middle dots, bullets, the dot operators. */
const DOT_CLASS = "\\u00b7\\u2022\\u2027\\u2219\\u22c5\\u30fb\\uff65";
/** Slash-likes without a compatibility decomposition: the fraction and division slashes. */
const SLASH_CLASS = "\\u2044\\u2215";

/**
 * Enclosed digits without a compatibility decomposition: [first code point, its value, count].
 * Dingbat negative circled, circled sans-serif and negative circled sans-serif 1-9, double
 * circled 1-9, negative circled 0, and the two dingbat sans-serif zeros.
 */
const ENCLOSED_DIGITS: [number, number, number][] = [
  [0x2776, 1, 9],
  [0x2780, 1, 9],
  [0x278a, 1, 9],
  [0x24f5, 1, 9],
  [0x24ff, 0, 1],
  [0x1f10b, 0, 1],
  [0x1f10c, 0, 1],
];

/** Characters above U+007F that fold (for a `u`-flag regex character class). */
const FOLDABLE_CLASS =
  FOLDED_EVIDENCE_CLASS +
  "\\p{Cf}\\u00a0\\u1680\\u2000-\\u200a\\u202f\\u205f\\u3000" + // format characters, spaces
  DASH_CLASS +
  DOT_CLASS +
  SLASH_CLASS +
  "\\u0300-\\u036f\\u1ab0-\\u1aff\\u1dc0-\\u1dff\\u20d0-\\u20ff\\ufe00-\\ufe0f\\ufe20-\\ufe2f"; // combining marks

const FOLDABLE = new RegExp(`^[${FOLDABLE_CLASS}]$`, "u");
const DROPPED = /^[\p{Cf}\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe00-\ufe0f\ufe20-\ufe2f]$/u;
const SPACES = /^[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]$/u;
const DASHES = new RegExp(`^[${DASH_CLASS}]$`, "u");
const DOTS = new RegExp(`^[${DOT_CLASS}]$`, "u");
const SLASHES = new RegExp(`^[${SLASH_CLASS}]$`, "u");
/** "(4)", "4.", "4,": a digit in parentheses or with a full stop or comma (⑷, ⒋, 🄅) */
const PUNCTUATED_DIGIT = /^\(?([0-9])[).,]?$/;
const DIGIT = /^\p{Nd}$/u;
/** what a compatibility form may fold to: the characters the detectors' formats are made of (with ',': "４１１１，…") */
const STRUCTURAL = /^[A-Za-z0-9@.\-+()_:/%=|,]$/;

/** Per BMP code unit: 0 not computed yet, KEEP, DROP, or the folded ASCII code + ASCII_BASE. */
const KEEP = 1;
const DROP = 2;
const ASCII_BASE = 3;
const bmp = new Uint8Array(0x10000);
const astral = new Map<number, number>();

/** What code point `cp` (>= 0x80) folds to: KEEP, DROP or ASCII_BASE + an ASCII code. */
function computeFold(cp: number): number {
  const ch = String.fromCodePoint(cp);
  if (!FOLDABLE.test(ch)) return KEEP;
  if (DROPPED.test(ch)) return DROP;
  if (SPACES.test(ch)) return ASCII_BASE + 32;
  if (DASHES.test(ch)) return ASCII_BASE + 45;
  if (cp === 0x3002 || cp === 0xff61 || DOTS.test(ch)) return ASCII_BASE + 46;
  if (SLASHES.test(ch)) return ASCII_BASE + 47;
  for (const [first, value, count] of ENCLOSED_DIGITS) if (cp >= first && cp < first + count) return ASCII_BASE + 48 + value + cp - first;
  const nfkc = ch.normalize("NFKC");
  if (nfkc.length === 1 && STRUCTURAL.test(nfkc)) return ASCII_BASE + nfkc.charCodeAt(0);
  const punctuated = PUNCTUATED_DIGIT.exec(nfkc);
  if (punctuated) return ASCII_BASE + punctuated[1].charCodeAt(0);
  if (DIGIT.test(ch)) return ASCII_BASE + 48 + digitValue(cp);
  return KEEP;
}

/** Nd digits come in runs of ten, zero first (a Unicode stability guarantee). */
function digitValue(cp: number): number {
  let zero = cp;
  while (zero > 0 && DIGIT.test(String.fromCodePoint(zero - 1))) zero--;
  return (cp - zero) % 10;
}

function foldOfUnit(c: number): number {
  let v = bmp[c];
  if (v === 0) v = bmp[c] = c >= 0xd800 && c <= 0xdfff ? KEEP : computeFold(c);
  return v;
}

function foldOfAstral(cp: number): number {
  let v = astral.get(cp);
  if (v === undefined) {
    v = computeFold(cp);
    if (astral.size < 4096) astral.set(cp, v);
  }
  return v;
}

/** True when the character at u[i] (a code unit >= 0x80) folds to something else. */
export function foldsAt(u: Uint16Array, i: number): boolean {
  const c = u[i];
  if (c >= 0xd800 && c <= 0xdbff) {
    const lo = u[i + 1];
    return lo >= 0xdc00 && lo <= 0xdfff && foldOfAstral(((c - 0xd800) << 10) + (lo - 0xdc00) + 0x10000) !== KEEP;
  }
  return foldOfUnit(c) !== KEEP;
}

/** True when `c` (one code unit) folds to an ASCII character or is dropped. */
export function foldsUnit(c: number): boolean {
  return c >= 0x80 && (c >= 0xd800 && c <= 0xdfff ? true : foldOfUnit(c) !== KEEP);
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The ASCII character a code unit reads as (itself, or what it folds to); 0 for anything else. */
export function asciiOf(c: number): number {
  if (c < 0x80) return c;
  const v = c >= 0xd800 && c <= 0xdfff ? KEEP : foldOfUnit(c);
  return v >= ASCII_BASE ? v - ASCII_BASE : 0;
}

export interface Folded {
  text: string;
  /** starts[j] / ends[j]: the original range that folded character j came from */
  starts: Int32Array;
  ends: Int32Array;
}

let buffer = new Uint16Array(1024);
/** Larger texts get a temporary buffer, so one huge body does not pin memory (as units.ts). */
const RETAIN_LIMIT = 1 << 20;

/** The stand-ins of soft line breaks (wrap.ts): format characters, dropped like any other. */
export const SOFT_LF = "\u2063";
export const SOFT_CRLF = "\u2064";

/**
 * `text` folded, with the way back to original positions. `softAs`: what soft line breaks
 * (SOFT_LF, SOFT_CRLF) read as: 0 dropped (like any format character), else that ASCII code
 * (a line break: the lines apart; a space: the parts side by side). `letterDigits`: positions of
 * letters read as digits (letter-digits.ts).
 */
export function foldText(text: string, softAs = 0, letterDigits: Uint8Array | null = null): Folded {
  const n = text.length;
  let out = buffer;
  if (out.length < n) {
    out = new Uint16Array(Math.max(n, out.length * 2));
    if (out.length <= RETAIN_LIMIT) buffer = out;
  }
  const starts = new Int32Array(n + 1);
  const ends = new Int32Array(n + 1);
  let j = 0;
  // A chain of sequences that does not join is kept as it is, as one unit (its payloads are
  // still text): the stream masker decides by the same whole chain.
  let keptUntil = 0;
  for (let i = 0; i < n; ) {
    const c = text.charCodeAt(i);
    if (i >= keptUntil && isEscapeStart(c)) {
      // Escape sequences inside a value are dropped (escapes.ts); the match then covers them.
      const end = chainEnd(text, i);
      const right = end > i && end < n ? asciiOf(text.charCodeAt(end)) : 0;
      if (end === i) {
        // Broken or cut off (escapes.ts scanResume): a boundary (NUL), so that what follows,
        // folded to ASCII ("\x1b[４１１１…"), is not read as its parameters.
        out[j] = 0;
        starts[j] = i;
        ends[j] = i + 1;
        j++;
        i++;
        continue;
      } else if (j > 0 && right !== 0 && escapeJoins(out[j - 1], right)) {
        // Between two digits it reads as a space: a value grouped there ("4111\e[1m1111 …"), or
        // two values side by side, which must not merge into one long, unmatched run.
        if (isDigit(out[j - 1]) && isDigit(right)) {
          out[j] = 32;
          starts[j] = i;
          ends[j] = end;
          j++;
        }
        i = end;
        continue;
      } else keptUntil = end;
    }
    if ((c === 37 || c === 38 || c === 92) && i + 2 < n) {
      const packed = encodedCharAt(text, i); // "%40", "&#64;", "\u0040" (encoded.ts)
      if (packed !== 0) {
        out[j] = packed & 255;
        starts[j] = i;
        ends[j] = i + (packed >> 8);
        j++;
        i += packed >> 8;
        continue;
      }
    }
    let width = 1;
    let v = KEEP;
    if (letterDigits !== null && letterDigits[i] === 1) v = ASCII_BASE + letterDigit(c); // "111l" (letter-digits.ts)
    else if (c >= 0x80) {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const lo = text.charCodeAt(i + 1);
        if (lo >= 0xdc00 && lo <= 0xdfff) {
          width = 2;
          v = foldOfAstral(((c - 0xd800) << 10) + (lo - 0xdc00) + 0x10000);
        }
      } else v = foldOfUnit(c);
    }
    if (v === DROP && softAs !== 0 && (c === 0x2063 || c === 0x2064)) v = ASCII_BASE + softAs;
    if (v === DROP) {
      // A combining mark belongs to the character before it: masked with it. A soft line break
      // belongs to no character: a match that ends before it leaves it be, as the break it is.
      if (j > 0 && c !== 0x2063 && c !== 0x2064) ends[j - 1] = i + width;
      i += width;
      continue;
    }
    if (v === KEEP) {
      for (let k = 0; k < width; k++) {
        out[j] = text.charCodeAt(i + k);
        starts[j] = i + k;
        ends[j] = i + k + 1;
        j++;
      }
    } else {
      out[j] = v - ASCII_BASE;
      starts[j] = i;
      ends[j] = i + width;
      j++;
    }
    i += width;
  }
  return { text: Buffer.from(out.buffer, 0, j * 2).toString("utf16le"), starts, ends };
}
