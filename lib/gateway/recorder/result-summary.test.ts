import { describe, expect, it } from "vitest";
import { resultSummary } from "./result-summary";

describe("resultSummary", () => {
  it("names a PostgreSQL error by code and message, with the rows sent before it", () => {
    expect(resultSummary({ tag: null, rows: 2, error: { code: "22012", message: "division by zero" } })).toEqual({ text: "error: 22012 division by zero · 2 rows sent before", problem: true });
  });

  it("says when the session ended before the outcome was known", () => {
    const r = resultSummary({ rows: 0, incomplete: "the session ended before the upstream's answer (the client closed the connection); the statement may have run" });
    expect(r.problem).toBe(true);
    expect(r.text).toMatch(/^outcome unknown: the session ended before .* may have run$/);
  });

  it("summarizes a normal result", () => {
    expect(resultSummary({ tag: "SELECT 3", rows: 3, durationMs: 1.5, maskedCells: 2 })).toEqual({ text: "SELECT 3 · 3 rows · 1.5 ms · 2 cells masked", problem: false });
    expect(resultSummary({ error: "exit 1" }).text).toBe("error: exit 1");
  });
});
