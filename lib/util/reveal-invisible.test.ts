import { describe, expect, it } from "vitest";
import { revealInvisible } from "./reveal-invisible";

describe("revealInvisible", () => {
  it("tags bidirectional overrides, isolates, marks and zero-width characters", () => {
    expect(revealInvisible("DELETE FROM t /*\u202e*/\u2066x\u2069\u200b\u200e\ufeff")).toBe("DELETE FROM t /*⟦U+202E⟧*/⟦U+2066⟧x⟦U+2069⟧⟦U+200B⟧⟦U+200E⟧⟦U+FEFF⟧");
  });
  it("leaves ordinary text, right-to-left letters and emoji alone", () => {
    const s = "SELECT 'שלום', 'مرحبا', '日本', '👍🏽' FROM t\nWHERE a = 1\t-- ok";
    expect(revealInvisible(s)).toBe(s);
  });
});
