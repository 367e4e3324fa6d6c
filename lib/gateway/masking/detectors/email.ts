/**
 * Email addresses, found from their '@' outwards instead of with a regex: a pattern such as
 * /[\w.+-]+@.../ retries the local part at every start position and goes quadratic on long
 * runs of word characters. Expanding left and right from each '@' touches every character a
 * bounded number of times (local part <= 64, domain <= 253, per RFC 5321).
 */
import { F_DOMAIN, F_LOCAL, F_LOWER, F_UPPER, K_EMAIL, has, type MatchOut } from "./chars";

const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const DOT = 46;
const DASH = 45;

/**
 * Internationalised addresses (RFC 6531) have non-ASCII letters: "jürgen@example.de" must be
 * masked whole, not as "rgen@...". Accept letters from Latin-1 upward, but not the ranges that
 * hold punctuation, symbols and emoji (general punctuation, CJK punctuation, surrogates,
 * specials), so "–alice@x.org" or "😀bob@x.org" do not pull the symbol into the address.
 */
export function isIntlLetter(c: number): boolean {
  if (c < 0xc0 || c === 0xd7 || c === 0xf7) return false;
  if (c >= 0x2000 && c <= 0x2bff) return false;
  if (c >= 0x3000 && c <= 0x303f) return false;
  return c < 0xd800 || (c > 0xdfff && c < 0xfe00);
}

/**
 * `at` is the index of an '@'. `guard` is the first index a match may cover (the end of the
 * previous match or escape sequence: never re-mask or split those).
 */
export function matchEmail(u: Uint16Array, at: number, n: number, guard: number, out: MatchOut): boolean {
  const floor = Math.max(guard, at - MAX_LOCAL);
  let s = at;
  // ".." never occurs inside a local part, so it marks where the address starts ("see...bob@x").
  while (s > floor && (has(u[s - 1], F_LOCAL) || isIntlLetter(u[s - 1])) && !(u[s - 1] === DOT && u[s] === DOT)) s--;
  // A local part cannot start with a dot ("...see.alice@x" still finds "alice@x"). Leading
  // dashes are punctuation too ("–alice@x", an en dash folded to '-'), unless they are all of it.
  while (s < at && u[s] === DOT) s++;
  while (s < at - 1 && u[s] === DASH) s++;
  if (s === at) return false;

  const domainStart = at + 1;
  let e = domainStart;
  const limit = Math.min(n, domainStart + MAX_DOMAIN);
  while (e < limit && (has(u[e], F_DOMAIN) || isIntlLetter(u[e]))) e++;
  // Trailing punctuation belongs to the sentence, not the address ("mail bob@x.org.").
  while (e > domainStart && (u[e - 1] === DOT || u[e - 1] === DASH)) e--;
  if (e === domainStart) return false;
  const first = u[domainStart];
  if (first === DOT || first === DASH) return false;

  // Every label non-empty, and a letters-only TLD of 2+ characters ("pkg@1.2.3" is a version).
  let lastDot = -1;
  for (let p = domainStart; p < e; p++) {
    if (u[p] !== DOT) continue;
    if (p === lastDot + 1) return false;
    lastDot = p;
  }
  if (lastDot < 0 || e - lastDot - 1 < 2) return false;
  for (let p = lastDot + 1; p < e; p++) {
    const c = u[p];
    if (!has(c, F_UPPER) && !has(c, F_LOWER) && !isIntlLetter(c)) return false;
  }
  out.start = s;
  out.end = e;
  out.kind = K_EMAIL;
  return true;
}
