/**
 * PostgreSQL's text and jsonb refuse U+0000, and a UTF-8 encoder has no bytes for an unpaired
 * surrogate (the database receives U+FFFD instead). Text that came from a client must be made
 * storable before it is written, or a single such character makes the write fail — or, where a
 * hash covers the text, makes the stored copy differ from what was hashed. NUL is stored as U+2400
 * (SYMBOL FOR NULL) so it still shows it was there; a lone surrogate becomes U+FFFD.
 */
export function storableText(text: string): string {
  return text.replaceAll("\0", "\u2400").replace(LONE_SURROGATE, "\ufffd");
}

/**
 * JSON for jsonb. JSON.stringify writes both NUL and lone surrogates as \u escapes, so the plain
 * result tells whether the slow path is needed.
 */
export function storableJson(value: unknown): string {
  const json = JSON.stringify(value);
  if (!NEEDS_CLEANING.test(json)) return json;
  return JSON.stringify(value, (_k, v) => (typeof v === "string" ? storableText(v) : v));
}

const NEEDS_CLEANING = /\\u(0000|d[89a-f])/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
