import { describe, expect, it } from "vitest";
import { findInvisible, revealForTerminal } from "./reveal-invisible";

describe("revealForTerminal", () => {
  it("also tags what a terminal would act on, keeping newlines and tabs", () => {
    expect(revealForTerminal("DROP t\r\u001b[2KSELECT 1\u009b1A\u0008\u007f\u202e\n\tok")).toBe("DROP t⟦U+000D⟧⟦U+001B⟧[2KSELECT 1⟦U+009B⟧1A⟦U+0008⟧⟦U+007F⟧⟦U+202E⟧\n\tok");
    const s = "SELECT 'שלום', '日本', '👍🏽'\n\tFROM t";
    expect(revealForTerminal(s)).toBe(s);
  });
  it("is idempotent: tagged text stays as it is", () => {
    const once = revealForTerminal("a\u001b\u202eb");
    expect(revealForTerminal(once)).toBe(once);
  });
});

describe("findInvisible", () => {
  it("names the first hidden character and where it is (1-based line and column)", () => {
    expect(findInvisible("permit(principal, action, resource)\n  when { \"a\u202e\" == \"b\" };")).toEqual({ codePoint: "U+202E", line: 2, column: 12 });
    expect(findInvisible("\u200bx")).toEqual({ codePoint: "U+200B", line: 1, column: 1 });
    expect(findInvisible("forbid(principal, action, resource); // שלום")).toBeNull();
  });
});
