import { describe, expect, it } from "vitest";
import { revealForTerminal, revealInvisible } from "./reveal-invisible";

describe("revealInvisible", () => {
  it("tags bidirectional overrides, isolates, marks and zero-width characters", () => {
    expect(revealInvisible("DELETE FROM t /*\u202e*/\u2066x\u2069\u200b\u200e\ufeff")).toBe("DELETE FROM t /*⟦U+202E⟧*/⟦U+2066⟧x⟦U+2069⟧⟦U+200B⟧⟦U+200E⟧⟦U+FEFF⟧");
  });
  it("leaves ordinary text, right-to-left letters and emoji alone", () => {
    const s = "SELECT 'שלום', 'مرحبا', '日本', '👍🏽' FROM t\nWHERE a = 1\t-- ok";
    expect(revealInvisible(s)).toBe(s);
  });
  it("for a terminal, also tags what the terminal would act on, keeping newlines and tabs", () => {
    expect(revealForTerminal("DROP t\r\u001b[2KSELECT 1\u009b1A\u0008\u007f\u202e\n\tok")).toBe("DROP t⟦U+000D⟧⟦U+001B⟧[2KSELECT 1⟦U+009B⟧1A⟦U+0008⟧⟦U+007F⟧⟦U+202E⟧\n\tok");
    const s = "SELECT 'שלום', '日本', '👍🏽'\n\tFROM t";
    expect(revealForTerminal(s)).toBe(s);
  });
});
