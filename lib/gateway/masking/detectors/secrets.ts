/**
 * Credentials with a fixed, documented prefix: AWS access key ids, GitHub, Slack, Stripe and
 * Google API keys, and JWTs. The scanner only calls in here at a word boundary whose first
 * character can start one of the prefixes (A, g, x, s, r, e), so ordinary words cost one
 * `startsWith` at most.
 */
import { Buffer } from "node:buffer";
import { F_B64URL, F_DIGIT, F_LOWER, F_UPPER, F_WORD, K_AWS, K_GITHUB, K_GOOGLE, K_JWT, K_SLACK, K_STRIPE, bit, has, runEnd, type MatchOut } from "./chars";

const F_ALNUM = F_DIGIT | F_UPPER | F_LOWER;
const DOT = 46;

export const SECRET_KINDS = bit(K_AWS) | bit(K_GITHUB) | bit(K_SLACK) | bit(K_STRIPE) | bit(K_GOOGLE) | bit(K_JWT);

/** `i` is at a word boundary; `c` is u[i]. */
export function matchSecret(text: string, u: Uint16Array, i: number, n: number, c: number, mask: number, out: MatchOut): boolean {
  let end = -1;
  let kind = -1;
  switch (c) {
    case 65: // 'A'
      if (mask & bit(K_AWS) && (text.startsWith("AKIA", i) || text.startsWith("ASIA", i))) {
        end = exactRun(u, i + 4, n, F_UPPER | F_DIGIT, 16, F_ALNUM);
        kind = K_AWS;
      } else if (mask & bit(K_GOOGLE) && text.startsWith("AIza", i)) {
        end = exactRun(u, i + 4, n, F_B64URL, 35, F_B64URL);
        kind = K_GOOGLE;
      }
      break;
    case 103: // 'g'
      if (!(mask & bit(K_GITHUB))) break;
      kind = K_GITHUB;
      if (u[i + 1] === 104 && u[i + 3] === 95 && oneOf(u[i + 2], "pousr")) {
        end = boundedRun(u, i + 4, n, F_ALNUM, 30, 255, F_WORD);
      } else if (text.startsWith("github_pat_", i)) {
        end = boundedRun(u, i + 11, n, F_WORD, 22, 255, F_WORD);
      }
      break;
    case 120: // 'x'
      if (mask & bit(K_SLACK) && text.startsWith("xox", i) && u[i + 4] === 45 && oneOf(u[i + 3], "baprs")) {
        end = boundedRun(u, i + 5, n, F_ALNUM | F_B64URL, 10, 255, F_B64URL);
        kind = K_SLACK;
      }
      break;
    case 114: // 'r'
    case 115: // 's'
      if (mask & bit(K_STRIPE) && text.startsWith("k_live_", i + 1)) {
        end = boundedRun(u, i + 8, n, F_ALNUM, 10, 255, F_WORD);
        kind = K_STRIPE;
      }
      break;
    case 101: // 'e'
      if (mask & bit(K_JWT) && text.startsWith("eyJ", i)) {
        end = jwtEnd(text, u, i, n);
        kind = K_JWT;
      }
      break;
  }
  if (end < 0) return false;
  out.start = i;
  out.end = end;
  out.kind = kind;
  return true;
}

function oneOf(c: number, chars: string): boolean {
  for (let k = 0; k < chars.length; k++) if (chars.charCodeAt(k) === c) return true;
  return false;
}

/** Exactly `len` chars of `flag` at pos, not followed by a `stop` char; returns end or -1. */
function exactRun(u: Uint16Array, pos: number, n: number, flag: number, len: number, stop: number): number {
  const end = runEnd(u, pos, n, flag, len);
  if (end - pos !== len) return -1;
  return end < n && has(u[end], stop) ? -1 : end;
}

/** Between min and max chars of `flag` at pos, ending at a non-`stop` char; end or -1. */
function boundedRun(u: Uint16Array, pos: number, n: number, flag: number, min: number, max: number, stop: number): number {
  const end = runEnd(u, pos, n, flag, max + 1);
  const len = end - pos;
  if (len < min || len > max) return -1;
  return end < n && has(u[end], stop) ? -1 : end;
}

/**
 * A JWS (3 segments) or JWE (5 segments): base64url segments joined by dots, the first of which
 * decodes to a JSON object. The signature of an unsecured JWT may be empty ("h.p.").
 */
function jwtEnd(text: string, u: Uint16Array, i: number, n: number): number {
  const headerEnd = runEnd(u, i, n, F_B64URL, 8192);
  if (headerEnd - i < 10 || u[headerEnd] !== DOT) return -1;
  const payloadEnd = runEnd(u, headerEnd + 1, n, F_B64URL, 65536);
  if (payloadEnd === headerEnd + 1 || u[payloadEnd] !== DOT) return -1;
  let end = runEnd(u, payloadEnd + 1, n, F_B64URL, 65536);
  // A JWE has two more non-empty segments; a trailing sentence dot is not one.
  if (u[end] === DOT && has(u[end + 1], F_B64URL)) {
    const fourth = runEnd(u, end + 1, n, F_B64URL, 65536);
    if (u[fourth] === DOT && has(u[fourth + 1], F_B64URL)) {
      end = runEnd(u, fourth + 1, n, F_B64URL, 65536);
    }
  }
  return headerDecodesToJson(text.slice(i, headerEnd)) ? end : -1;
}

function headerDecodesToJson(segment: string): boolean {
  const json = Buffer.from(segment, "base64url").toString("utf8");
  if (json.charCodeAt(0) !== 123) return false; // '{'
  try {
    const parsed: unknown = JSON.parse(json);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
  } catch {
    return false;
  }
}
