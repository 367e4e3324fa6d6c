/**
 * The no-match fast path. Every built-in detector needs some evidence that is cheap to look for
 * with native string search: a digit (phone, SSN, card, IBAN, IPv4), '@' (email), ':' (IPv6), a
 * fixed prefix (secrets), or a character that folds to one of those (fold.ts). A text with none of the evidence for the enabled detectors skips
 * the scanner; V8 runs a one-class regex and `includes` at well over 1 GB/s, several times the
 * speed of any JavaScript loop over the characters.
 *
 * Only worth it for longer texts: for a short cell value the scan itself is cheaper than the
 * extra native calls.
 */
import { K_AWS, K_EMAIL, K_GITHUB, K_GOOGLE, K_IBAN, K_IPV6, K_JWT, K_PRIVATE_KEY, K_SLACK, K_STRIPE, bit } from "./chars";
import { FOLDED_EVIDENCE_CLASS } from "./fold";
import { NUMBER_KINDS } from "./numbers";

export const PREFILTER_MIN_LENGTH = 96;

/**
 * Secret prefixes, each behind a "gate": a single character that is rare in prose. V8 finds a
 * single character at memchr speed (~20 GB/s here) but a literal that starts with a common
 * letter ("eyJ", "k_live_") an order of magnitude slower, so we look for the gate first.
 */
const LITERALS: [kind: number, gate: string, prefixes: string[]][] = [
  [K_JWT, "J", ["eyJ"]],
  [K_AWS, "A", ["AKIA", "ASIA"]],
  [K_GITHUB, "_", ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"]],
  [K_SLACK, "-", ["xox"]],
  [K_STRIPE, "_", ["k_live_"]],
  [K_GOOGLE, "A", ["AIza"]],
  [K_PRIVATE_KEY, "-", ["-----BEGIN "]],
  // an encoded '@' (encoded.ts): "%40", "&#64;", "&#x40;", "&commat;", "\u0040", "\x40"
  [K_EMAIL, "%", ["%40"]],
  [K_EMAIL, "&", ["&#", "&commat;"]],
  [K_EMAIL, "\\", ["\\u00", "\\x40"]],
];

export class Prefilter {
  private readonly chars: RegExp | null;
  private readonly folding: RegExp;
  private readonly gates: string[];
  private readonly literals: string[];

  constructor(mask: number) {
    let cls = "";
    if (mask & (NUMBER_KINDS | bit(K_IBAN))) cls += "0-9";
    if (mask & bit(K_EMAIL)) cls += "@";
    if (mask & bit(K_IPV6)) cls += ":";
    // Characters that fold to digits, '@' or letters (full-width digits, '＠', fold.ts) are
    // evidence too. Their exact class is three times slower to search than an ASCII one, so a
    // coarse class (any non-ASCII character) finds the first candidate, and only a text with
    // non-ASCII characters is searched again, from there, with the exact class. That class
    // holds \p{Nd}, whose ASCII digits are evidence only for the number detectors: without
    // those, ASCII is subtracted (a set operation, flag v).
    this.chars = mask !== 0 ? new RegExp(`[${cls}\\u0080-\\uffff]`) : null;
    this.folding = cls.startsWith("0-9") ? new RegExp(`[${cls}${FOLDED_EVIDENCE_CLASS}]`, "gu") : new RegExp(`${cls ? `[${cls}]|` : ""}[[${FOLDED_EVIDENCE_CLASS}]--[\\x00-\\x7f]]`, "gv");
    const enabled = LITERALS.filter(([kind]) => mask & bit(kind)).flatMap(([, gate, prefixes]) => prefixes.map((p) => [gate, p]));
    this.gates = enabled.map(([gate]) => gate);
    this.literals = enabled.map(([, literal]) => literal);
  }

  /** False only when no enabled detector can match anywhere in `text`. */
  mayMatch(text: string): boolean {
    if (text.length < PREFILTER_MIN_LENGTH) return true;
    if (this.chars !== null) {
      const at = text.search(this.chars);
      if (at >= 0) {
        if (text.charCodeAt(at) < 128) return true;
        this.folding.lastIndex = at;
        if (this.folding.test(text)) return true;
      }
    }
    for (let i = 0; i < this.literals.length; i++) {
      if (text.includes(this.gates[i]) && text.includes(this.literals[i])) return true;
    }
    return false;
  }
}
