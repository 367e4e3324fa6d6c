/**
 * ASCII character-class tables shared by the detectors. Every detector is a hand-written,
 * linear scan over the text's UTF-16 code units (see units.ts) with table lookups: no regex
 * backtracking, no allocation, and each character is looked at a bounded number of times
 * (the throughput target is 50 MB/s).
 * Non-ASCII characters belong to no class, so they end tokens.
 */

export const F_DIGIT = 1;
export const F_UPPER = 2;
export const F_LOWER = 4;
export const F_HEX = 8;
/** [A-Za-z0-9_]: what makes a word boundary */
export const F_WORD = 16;
/** [A-Za-z0-9_-]: JWT segments, Google keys */
export const F_B64URL = 32;
/** [A-Za-z0-9._%+-]: email local part */
export const F_LOCAL = 64;
/** [A-Za-z0-9.-]: email domain */
export const F_DOMAIN = 128;
/** [A-Za-z0-9+/=]: PEM body lines */
export const F_B64 = 256;
/**
 * Characters that can occur inside any built-in match (the stream masker holds back a trailing
 * run of these, because the run may still grow into a match).
 */
export const F_ENTITY = 512;

function buildFlags(): Uint16Array {
  const t = new Uint16Array(128);
  const add = (chars: string, flag: number) => {
    for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] |= flag;
  };
  const digits = "0123456789";
  const upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const lower = "abcdefghijklmnopqrstuvwxyz";
  const alnum = digits + upper + lower;
  add(digits, F_DIGIT);
  add(upper, F_UPPER);
  add(lower, F_LOWER);
  add(digits + "abcdefABCDEF", F_HEX);
  add(alnum + "_", F_WORD);
  add(alnum + "_-", F_B64URL);
  add(alnum + "._%+-", F_LOCAL);
  add(alnum + ".-", F_DOMAIN);
  add(alnum + "+/=", F_B64);
  add(alnum + "_-.%+@:()/=| \t,", F_ENTITY);
  return t;
}

export const FLAGS = buildFlags();

export function has(c: number, flag: number): boolean {
  return c < 128 && (FLAGS[c] & flag) !== 0;
}

/** Index just past the run of `flag` characters starting at `pos` (at most `max` long). */
export function runEnd(u: Uint16Array, pos: number, n: number, flag: number, max: number): number {
  const limit = Math.min(n, pos + max);
  while (pos < limit) {
    const c = u[pos];
    if (c >= 128 || (FLAGS[c] & flag) === 0) break;
    pos++;
  }
  return pos;
}

/** Scanner kinds: the index of each detector in DETECTOR_NAMES (see catalog.ts). */
export const K_EMAIL = 0;
export const K_PHONE = 1;
export const K_SSN = 2;
export const K_CARD = 3;
export const K_IBAN = 4;
export const K_IPV4 = 5;
export const K_IPV6 = 6;
export const K_JWT = 7;
export const K_AWS = 8;
export const K_GITHUB = 9;
export const K_SLACK = 10;
export const K_STRIPE = 11;
export const K_GOOGLE = 12;
export const K_PRIVATE_KEY = 13;
export const BUILTIN_KIND_COUNT = 14;

export function bit(kind: number): number {
  return 1 << kind;
}

/** Where a detector that succeeded reports its result, reused so the hot path allocates nothing. */
export interface MatchOut {
  start: number;
  end: number;
  kind: number;
}
