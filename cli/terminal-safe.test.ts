import { describe, expect, it } from "vitest";
import { terminalSafe, terminalSafeJson } from "./terminal-safe";

describe("terminal-safe output", () => {
  it("shows control characters as \\xNN and bidi/zero-width characters as tags, keeps newline and tab", () => {
    expect(terminalSafe("a\x1b]52;c;eA==\x07b")).toBe("a\\x1b]52;c;eA==\\x07b");
    expect(terminalSafe("\x9b6n\x7f\r")).toBe("\\x9b6n\\x7f\\x0d");
    expect(terminalSafe("x\u202ey\u200b")).toBe("x⟦U+202E⟧y⟦U+200B⟧");
    expect(terminalSafe("one\ttwo\nthree")).toBe("one\ttwo\nthree");
    const once = terminalSafe("\x1b[6n\u2066");
    expect(terminalSafe(once)).toBe(once);
  });

  it("JSON keeps its exact content but carries no raw C1, DEL or invisible character", () => {
    const data = { s: "\x1b\x9b\x7f\u202e\u2028ok" };
    const safe = terminalSafeJson(JSON.stringify(data));
    expect(safe).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e\u2028]/);
    expect(JSON.parse(safe)).toEqual(data);
  });
});
