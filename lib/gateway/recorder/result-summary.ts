/**
 * One line for a recorded `result` event, as the console's timelines show it. Pure: used in the
 * browser. A PostgreSQL error is `{ code, message }` (it showed as "[object Object]"), and a
 * result the session ended before (`incomplete`) must say so: the statement may have run.
 */
export function resultSummary(r: Record<string, unknown>): { text: string; problem: boolean } {
  const parts: string[] = [];
  if (r.incomplete) parts.push(`outcome unknown: ${String(r.incomplete)}`);
  if (r.error) parts.push(`error: ${errorText(r.error)}`);
  if (parts.length) {
    if (typeof r.rows === "number" && r.rows > 0) parts.push(`${r.rows} rows sent before`);
    return { text: parts.join(" · "), problem: true };
  }
  const facts = [
    r.tag ? String(r.tag) : "",
    r.rows !== undefined ? `${String(r.rows)} rows` : "",
    r.durationMs !== undefined ? `${String(r.durationMs)} ms` : "",
    r.maskedCells ? `${String(r.maskedCells)} cells masked` : "",
  ];
  return { text: facts.filter(Boolean).join(" · "), problem: false };
}

function errorText(e: unknown): string {
  if (e && typeof e === "object") {
    const { code, message } = e as { code?: unknown; message?: unknown };
    return [code, message].filter((x) => x !== undefined && x !== null && x !== "").map(String).join(" ") || JSON.stringify(e);
  }
  return String(e);
}
