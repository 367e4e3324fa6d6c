/**
 * IPv6 addresses: eight hex groups, or a '::'-compressed form, optionally ending in a dotted
 * IPv4 ("::ffff:192.0.2.1"). Parsed by hand so that words made of hex letters ("cafe", "add")
 * cost two or three character checks and are rejected as soon as no ':' follows.
 *
 * Deliberately not matched: times ("12:34:56" has no '::' and only 3 groups), MAC addresses
 * (6 groups), "::1" and "fe80::" (a single group says nothing about a host and is common
 * noise in code), and anything continuing a longer ':' sequence.
 */
import { F_DIGIT, F_HEX, F_WORD, K_IPV6, has, runEnd, type MatchOut } from "./chars";

const COLON = 58;
const DOT = 46;

/** `i` is a hex character at a word boundary, or the first ':' of a leading '::'. */
export function matchIpv6(u: Uint16Array, i: number, n: number, out: MatchOut): boolean {
  if (i > 0 && u[i - 1] === COLON) return false;
  let pos = i;
  let groups = 0;
  let compressed = false;
  if (u[pos] === COLON) {
    if (u[pos + 1] !== COLON) return false;
    compressed = true;
    pos += 2;
  }
  let end = pos;
  for (;;) {
    const s = pos;
    pos = runEnd(u, pos, n, F_HEX, 5);
    const len = pos - s;
    if (len === 0) break; // address ends right after '::'
    if (len > 4) return false;
    if (u[pos] === DOT) {
      // An embedded IPv4 is the last 32 bits; it must be a real dotted quad.
      const v4End = dottedQuadEnd(u, s, n);
      if (v4End < 0 || groups > 6) return false;
      groups += 2;
      end = v4End;
      break;
    }
    groups++;
    end = pos;
    if (u[pos] !== COLON || groups === 8) break;
    if (u[pos + 1] === COLON) {
      if (compressed) return false; // two '::' is never an address
      compressed = true;
      pos += 2;
      end = pos;
      continue;
    }
    if (!has(u[pos + 1], F_HEX)) break;
    pos++;
  }
  const ok = compressed ? groups >= 2 && groups <= 7 : groups === 8;
  if (!ok) return false;
  const next = u[end];
  if (end < n && has(next, F_WORD)) return false;
  // A ninth group or a second '::' means this is some longer colon-separated token.
  if (next === COLON && (has(u[end + 1], F_HEX) || u[end + 1] === COLON)) return false;
  out.start = i;
  out.end = end;
  out.kind = K_IPV6;
  return true;
}

/** End of a strict dotted quad starting at `s`, or -1. */
function dottedQuadEnd(u: Uint16Array, s: number, n: number): number {
  let pos = s;
  for (let k = 0; k < 4; k++) {
    if (k > 0) {
      if (u[pos] !== DOT) return -1;
      pos++;
    }
    const start = pos;
    let v = 0;
    while (pos < n && pos - start < 4 && has(u[pos], F_DIGIT)) {
      v = v * 10 + (u[pos] - 48);
      pos++;
    }
    const len = pos - start;
    if (len === 0 || len > 3 || v > 255 || (len > 1 && u[start] === 48)) return -1;
  }
  return pos;
}
