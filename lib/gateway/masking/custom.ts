/**
 * Admin-defined matchers: custom regexes and dictionaries.
 *
 * JavaScript regexes cannot be interrupted, so a catastrophic pattern would stall the whole
 * gateway process (every session shares one event loop). We therefore refuse risky patterns at
 * validation time: a length limit, nested quantifiers ("(a+)+", "(\w*\s?)*"), backreferences,
 * and patterns that match the empty string (they would mask nothing and loop forever).
 *
 * Those shapes are not the only slow ones: overlapping alternatives ("(a|a)*!", "(?:a|aa)+!") and
 * stacked quantifiers ("a*a*a*a*a*!") passed, and any member can send one to the masking preview
 * (POST /api/v1/masking/test, masking:read): 40 characters of input held the process for
 * seconds, 3000 for good. So V8 runs a regex that backtracks too much on its linear-time engine
 * instead, and a custom regex must be one that engine can run (no lookaround, no backreference,
 * no huge counted repetition): then no input makes it slow.
 */
import v8 from "node:v8";
import { RangeList } from "./detectors/scanner";

export { mergeRanges } from "./detectors/scanner";

// Process-wide V8 flags (workers included); they change no regex's meaning. The first lets the
// "l" flag compile, which is how a pattern is tested for the linear-time engine.
v8.setFlagsFromString("--enable-experimental-regexp-engine");
v8.setFlagsFromString("--enable-experimental-regexp-engine-on-excessive-backtracks");

export const MAX_REGEX_LENGTH = 256;
export const MAX_DICTIONARY_ENTRIES = 2000;
export const MAX_PHRASE_LENGTH = 200;

/** Why a custom regex is refused, or null when it is acceptable. */
export function checkCustomRegex(source: string): string | null {
  if (source.length === 0) return "is empty";
  if (source.length > MAX_REGEX_LENGTH) return `is longer than ${MAX_REGEX_LENGTH} characters`;
  let re: RegExp;
  try {
    re = new RegExp(source, "g");
  } catch (err) {
    return `does not compile: ${(err as Error).message}`;
  }
  if (/\\[1-9]|\\k</.test(source)) return "uses a backreference (can take exponential time)";
  if (hasNestedQuantifier(source)) return "nests a quantifier inside a repeated group (can take exponential time)";
  if (!runsInLinearTime(source)) return "cannot run in linear time (no lookahead, lookbehind or large counted repetition)";
  if (re.test("")) return "matches the empty string";
  return null;
}

/** Whether V8's linear-time engine can run the pattern, so excessive backtracking can fall back to it. */
function runsInLinearTime(source: string): boolean {
  try {
    new RegExp(source, "gl");
    return true;
  } catch {
    return false;
  }
}

/**
 * True if a parenthesised group that itself contains a quantifier is followed by a quantifier.
 * A syntactic approximation (no full regex parser): it ignores escapes and character classes,
 * and errs on the side of refusing.
 */
function hasNestedQuantifier(source: string): boolean {
  const stack: boolean[] = []; // per open group: does it contain a quantifier?
  let lastClosedHadQuantifier = false;
  for (let i = 0; i < source.length; i++) {
    const ch = source[i];
    if (ch === "\\") {
      i++;
      lastClosedHadQuantifier = false;
      continue;
    }
    if (ch === "[") {
      // Skip the character class (a ']' right after '[' or '[^' is literal).
      i++;
      if (source[i] === "^") i++;
      if (source[i] === "]") i++;
      while (i < source.length && source[i] !== "]") i += source[i] === "\\" ? 2 : 1;
      lastClosedHadQuantifier = false;
      continue;
    }
    if (ch === "(") {
      stack.push(false);
      lastClosedHadQuantifier = false;
      continue;
    }
    if (ch === ")") {
      lastClosedHadQuantifier = stack.pop() ?? false;
      if (lastClosedHadQuantifier && stack.length > 0) stack[stack.length - 1] = true;
      continue;
    }
    const repeats = ch === "*" || ch === "+" || (ch === "{" && bracesRepeat(source, i));
    if (repeats || ch === "?") {
      if (repeats && lastClosedHadQuantifier) return true;
      if (repeats && stack.length > 0) stack[stack.length - 1] = true;
    }
    lastClosedHadQuantifier = false;
  }
  return false;
}

/** "{n}", "{n,}", "{n,m}" at i allows more than one repetition ((a+){10} is O(n^10)). */
function bracesRepeat(source: string, i: number): boolean {
  const m = /^\{(\d*)(,?)(\d*)\}/.exec(source.slice(i, i + 24));
  if (!m) return false;
  if (m[2] === ",") return m[3] === "" || Number(m[3]) > 1;
  return Number(m[1]) > 1;
}

const REGEX_META = /[.*+?^${}()|[\]\\]/g;

/**
 * One case-insensitive regex matching any dictionary entry as a whole word. Longest entries come
 * first so "Project Apollo" wins over "Apollo"; runs of whitespace inside a phrase match any
 * whitespace. Word boundaries are ASCII [A-Za-z0-9_]; other characters count as separators.
 */
export function compileDictionary(entries: readonly string[]): RegExp | null {
  const words = [...new Set(entries.map((e) => e.trim()).filter((e) => e.length > 0))];
  if (words.length === 0) return null;
  words.sort((a, b) => b.length - a.length);
  const body = words.map((w) => w.replace(REGEX_META, "\\$&").replace(/\s+/g, "\\s+")).join("|");
  return new RegExp(`(?<![A-Za-z0-9_])(?:${body})(?![A-Za-z0-9_])`, "gi");
}

export interface CustomMatcher {
  re: RegExp;
  /** range kind reported for its matches (>= BUILTIN_KIND_COUNT, see masker) */
  kind: number;
}

/** Append every match of every matcher to `out`, then sort by start and drop overlaps. */
export function scanCustom(text: string, matchers: readonly CustomMatcher[], out: RangeList): void {
  for (const { re, kind } of matchers) {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++; // e.g. a lone \b: nothing to mask, and exec would not advance
        continue;
      }
      out.push(m.index, m.index + m[0].length, kind);
    }
  }
  sortAndDedupe(out);
}

function sortAndDedupe(list: RangeList): void {
  const { starts, ends, kinds } = list;
  // Insertion sort: each matcher's own output is already sorted, so this is near-linear.
  for (let i = 1; i < list.length; i++) {
    const s = starts[i], e = ends[i], k = kinds[i];
    let j = i - 1;
    while (j >= 0 && starts[j] > s) {
      starts[j + 1] = starts[j];
      ends[j + 1] = ends[j];
      kinds[j + 1] = kinds[j];
      j--;
    }
    starts[j + 1] = s;
    ends[j + 1] = e;
    kinds[j + 1] = k;
  }
  let kept = 0;
  for (let i = 0; i < list.length; i++) {
    if (kept > 0 && starts[i] < ends[kept - 1]) continue;
    starts[kept] = starts[i];
    ends[kept] = ends[i];
    kinds[kept] = kinds[i];
    kept++;
  }
  list.length = kept;
}

