import { classifySql, type Classification } from "./classify";

/**
 * Process-wide cache of classifications, so the parser runs once per statement shape rather than
 * once per execution (~20–30 µs each; pgbench sends the same few statements at thousands per second).
 *
 * Two levels, both consulted only for classifications that do not depend on the session
 * (no EXECUTE: that one is resolved against the session's prepared statements):
 *
 * - exact text: any statement up to MAX_TEXT characters (extended protocol: the same Parse text).
 * - shape: the text with its integer literals blanked out, for the simple protocol, where
 *   `... WHERE aid = 4711` differs in every execution. This key is only formed for text whose
 *   tokens a few character tests determine exactly (see shapeKey), and the result is only shared
 *   for statement types whose classification cannot depend on a literal's value (SELECT, INSERT,
 *   UPDATE, DELETE, transaction control: kind, tables and functions come from the tree's shape).
 *   `EXPLAIN (ANALYZE 0)` vs `(ANALYZE 1)` is why other types are excluded.
 *
 * A shape hit returns the classification of an earlier text of that shape: its statements'
 * `text` may carry the earlier execution's integers. The gateway uses those texts only for
 * output-column derivation (masking), which integer constants do not change; what is recorded
 * and bound to approvals is always the request's own text.
 */

const MAX_TEXT = 4096;
const MAX_ENTRIES = 1000;
/** Statement types classified from their tree's shape alone (no literal value is looked at). */
const SHAPE_SAFE = new Set(["SelectStmt", "InsertStmt", "UpdateStmt", "DeleteStmt", "TransactionStmt"]);

export class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(k: string): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: string, v: V) {
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  clear() {
    this.map.clear();
  }
}

const exact = new Lru<Classification>(MAX_ENTRIES);
const shapes = new Lru<Classification>(MAX_ENTRIES);
export const classifyCacheStats = { exact: 0, shape: 0, parsed: 0 };

/** classifySql(text, { prepared }) with the caches above. */
export function classifyCached(text: string, prepared: ReadonlyMap<string, Classification>): Classification {
  if (text.length > MAX_TEXT) return classifySql(text, { prepared });
  const hit = exact.get(text);
  if (hit) {
    classifyCacheStats.exact++;
    return hit;
  }
  const key = shapeKey(text);
  const byShape = key === null ? undefined : shapes.get(key);
  if (byShape) {
    classifyCacheStats.shape++;
    return byShape;
  }
  classifyCacheStats.parsed++;
  const c = classifySql(text, { prepared });
  if (c.parseError || c.statements.some((s) => s.executes.length > 0)) return c;
  exact.set(text, c);
  if (key !== null && c.statements.length > 0 && c.statements.every((s) => SHAPE_SAFE.has(s.node))) shapes.set(key, c);
  return c;
}

export function clearClassifyCache() {
  exact.clear();
  shapes.clear();
}

/**
 * The text with every integer literal replaced by NUL, or null when the text is not simple
 * enough to know its tokens without a lexer (or has no integer to blank out).
 *
 * "Simple": printable ASCII only, and none of ' " $ \ -- /* — so there are no string literals,
 * quoted identifiers, dollar quotes, parameters, escapes or comments. What remains lexes into
 * keywords/identifiers ([A-Za-z_][A-Za-z0-9_]*), numbers, operators and punctuation, and a
 * maximal digit run with no letter, digit, `_` or `.` on either side is exactly an integer
 * constant token. (Digits inside names like `t1`, and parts of `1.5`, `1e5`, `0x1f`, `1_000`, are
 * left as they are.) Two texts with the same key therefore have the same tokens apart from
 * integer values; NUL cannot occur in such text, so the key cannot collide with a real text.
 */
export function shapeKey(text: string): string | null {
  let out = "";
  let last = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 126 || (c < 32 && c !== 9 && c !== 10 && c !== 13)) return null;
    if (c === 39 || c === 34 || c === 36 || c === 92) return null; // ' " $ \
    if ((c === 45 || c === 47) && (text.charCodeAt(i + 1) === (c === 45 ? 45 : 42))) return null; // -- /*
    if (c >= 48 && c <= 57 && !(i > 0 && wordOrDot(text.charCodeAt(i - 1)))) {
      let j = i + 1;
      while (j < text.length && text.charCodeAt(j) >= 48 && text.charCodeAt(j) <= 57) j++;
      if (j === text.length || !wordOrDot(text.charCodeAt(j))) {
        out += text.slice(last, i) + "\0";
        last = j;
      }
      i = j - 1;
    }
  }
  return last === 0 ? null : out + text.slice(last);
}

function wordOrDot(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 46;
}
