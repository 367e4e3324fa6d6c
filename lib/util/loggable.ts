/**
 * What to log of an error. Drizzle writes a failed query's parameters into its message
 * ("Failed query: … params: …"): they can be password hashes, sealed secrets or a batch of
 * recorded session events, none of which belongs in a log. A query error is logged as its SQL
 * and its cause; any other error as its stack (or message).
 */
export function loggable(err: unknown, depth = 0): string {
  if (!(err instanceof Error)) return String(err);
  const q = err as Error & { query?: unknown; params?: unknown; cause?: unknown; code?: unknown };
  if (typeof q.query === "string" && "params" in q) {
    const sql = q.query.length > 500 ? `${q.query.slice(0, 500)}…` : q.query;
    return `failed query: ${sql}${q.cause && depth < 5 ? `: ${loggable(q.cause, depth + 1)}` : ""}`;
  }
  const code = typeof q.code === "string" ? ` (${q.code})` : "";
  // A cause's own stack would repeat the query's; its message says what went wrong.
  return depth ? `${err.message}${code}` : `${err.stack ?? err.message}${code}`;
}
