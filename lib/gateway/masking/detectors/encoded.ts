/**
 * Encoded '@' and '.': how an email address commonly comes back when it went through a URL, an
 * HTML page or a JSON encoder, or was obfuscated against scrapers:
 * "bob%40example.com", "bob&#64;example&#46;com", "bob&commat;example.com",
 * "bob\u0040example.com" (a json column keeps the escape as written), "bob\x40example.com".
 * The folding pass (fold.ts) reads such an escape as the character it stands for, so the
 * address is found and masked, escape included. Only '@' and '.' are decoded: the characters
 * that make an address; a whole value written in escapes is a transform, not a spelling.
 */

const PERCENT = 37;
const AMP = 38;
const BACKSLASH = 92;
const AT = 64;
const DOT = 46;

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  c |= 0x20;
  return c >= 97 && c <= 102 ? c - 87 : -1;
}

/** `count` hex digits at text[i]; -1 if any is missing. */
function hexValue(text: string, i: number, count: number): number {
  let v = 0;
  for (let k = 0; k < count; k++) {
    const d = hexDigit(text.charCodeAt(i + k));
    if (d < 0) return -1;
    v = v * 16 + d;
  }
  return v;
}

/** "&#64;", "&#x40;", "&#0064;": [code, length] packed as length * 256 + code, or 0. */
function numericEntity(text: string, i: number): number {
  let p = i + 2;
  const hex = (text.charCodeAt(p) | 0x20) === 120;
  if (hex) p++;
  let v = 0;
  const start = p;
  while (p - start < 7) {
    const c = text.charCodeAt(p);
    const d = hex ? hexDigit(c) : c >= 48 && c <= 57 ? c - 48 : -1;
    if (d < 0) break;
    v = v * (hex ? 16 : 10) + d;
    p++;
  }
  if (p === start || text.charCodeAt(p) !== 59) return 0; // ';'
  return v < 256 ? (p + 1 - i) * 256 + v : 0;
}

/**
 * At text[i]: an escape of '@' or '.', as `length * 256 + character`; 0 when there is none.
 * Only '%', '&' and '\' can start one.
 */
export function encodedCharAt(text: string, i: number): number {
  const c = text.charCodeAt(i);
  let packed = 0;
  if (c === PERCENT) {
    const v = hexValue(text, i + 1, 2);
    if (v >= 0) packed = 3 * 256 + v;
  } else if (c === BACKSLASH) {
    const kind = text.charCodeAt(i + 1);
    const v = kind === 117 ? hexValue(text, i + 2, 4) : kind === 120 ? hexValue(text, i + 2, 2) : -1;
    if (v >= 0 && v < 256) packed = (kind === 117 ? 6 : 4) * 256 + v;
  } else if (c === AMP) {
    if (text.charCodeAt(i + 1) === 35) packed = numericEntity(text, i);
    else if (text.startsWith("&commat;", i)) packed = 8 * 256 + AT;
    else if (text.startsWith("&period;", i)) packed = 8 * 256 + DOT;
  }
  const code = packed & 255;
  return code === AT || code === DOT ? packed : 0;
}

/** Whether text[i] starts an encoded '@' (what makes the folding pass worth running). */
export function encodedAtSignAt(text: string, i: number): boolean {
  return (encodedCharAt(text, i) & 255) === AT;
}
