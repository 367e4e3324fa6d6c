/**
 * IBANs: two upper-case letters, two check digits, then up to 30 upper-case letters/digits,
 * printed compact or in space-separated groups. Only checksum-valid IBANs are masked.
 *
 * The known length of the most common countries lets the detector pick the right end of a
 * spaced IBAN followed by more upper-case text ("DE89 3704 0044 0532 0130 00 EUR"); other
 * countries accept any length from 15 to 34 and rely on mod-97 alone.
 */
import { ibanValid } from "../checksums";
import { F_DIGIT, F_UPPER, F_WORD, K_IBAN, has, type MatchOut } from "./chars";

const MIN_LEN = 15;
const MAX_LEN = 34;
const MAX_GROUPS = 12;
const SPACE = 32;

const COUNTRY_LENGTHS: Record<string, number> = {
  AD: 24, AT: 20, BE: 16, BG: 22, CH: 21, CY: 28, CZ: 24, DE: 22, DK: 18, EE: 20, ES: 24,
  FI: 18, FR: 27, GB: 22, GR: 27, HR: 21, HU: 28, IE: 22, IS: 26, IT: 27, LI: 21, LT: 20,
  LU: 20, LV: 21, MC: 27, MT: 31, NL: 18, NO: 15, PL: 28, PT: 25, RO: 24, SE: 24, SI: 19,
  SK: 24, SM: 27, TR: 26, AE: 23, SA: 24, IL: 23, BR: 29, UA: 29,
};

const groupEnd = new Int32Array(MAX_GROUPS);
const lenAtGroupEnd = new Int32Array(MAX_GROUPS);

/** `i` is an upper-case letter at a word boundary. */
export function matchIban(text: string, u: Uint16Array, i: number, n: number, out: MatchOut): boolean {
  // Cheapest rejection first: "AB12" shape.
  if (!has(u[i + 1], F_UPPER) || !has(u[i + 2], F_DIGIT) || !has(u[i + 3], F_DIGIT)) {
    return false;
  }
  let pos = i;
  let len = 0;
  let groups = 0;
  for (;;) {
    while (pos < n && len < MAX_LEN && isUpperAlnum(u[pos])) {
      pos++;
      len++;
    }
    groupEnd[groups] = pos;
    lenAtGroupEnd[groups] = len;
    groups++;
    if (groups === MAX_GROUPS || len >= MAX_LEN) break;
    if (u[pos] !== SPACE || !isUpperAlnum(u[pos + 1])) break;
    pos++;
  }
  const expected = COUNTRY_LENGTHS[text.slice(i, i + 2)];
  for (let g = groups - 1; g >= 0; g--) {
    const end = groupEnd[g];
    const l = lenAtGroupEnd[g];
    if (expected !== undefined ? l !== expected : l < MIN_LEN || l > MAX_LEN) continue;
    if (end < n && has(u[end], F_WORD)) continue;
    if (ibanValid(text, i, end)) {
      out.start = i;
      out.end = end;
      out.kind = K_IBAN;
      return true;
    }
  }
  return false;
}

function isUpperAlnum(c: number): boolean {
  return has(c, F_UPPER) || has(c, F_DIGIT);
}
