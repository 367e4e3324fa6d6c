/**
 * JSON for jsonb. PostgreSQL's jsonb refuses U+0000 and unpaired surrogates; one such string in
 * a Bind parameter would otherwise poison every retry of its batch. NUL is stored as U+2400
 * (SYMBOL FOR NULL) so the recording still shows it was there; a lone surrogate becomes U+FFFD.
 * JSON.stringify writes both as \u escapes, so the plain result tells whether the slow path is needed.
 */
export function serialize(payload: Record<string, unknown>): string {
  const json = JSON.stringify(payload);
  if (!NEEDS_CLEANING.test(json)) return json;
  return JSON.stringify(payload, (_k, v) => (typeof v === "string" ? v.replaceAll("\0", "\u2400").replace(LONE_SURROGATE, "\ufffd") : v));
}

const NEEDS_CLEANING = /\\u(0000|d[89a-f])/i;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
