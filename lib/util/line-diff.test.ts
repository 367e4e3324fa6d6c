import { describe, expect, it } from "vitest";
import { diffStats, lineDiff } from "./line-diff";

describe("lineDiff", () => {
  it("marks added and removed lines and keeps common ones", () => {
    const d = lineDiff("a\nb\nc", "a\nx\nc\nd");
    expect(d).toEqual([
      { op: " ", text: "a" },
      { op: "-", text: "b" },
      { op: "+", text: "x" },
      { op: " ", text: "c" },
      { op: "+", text: "d" },
    ]);
    expect(diffStats(d)).toEqual({ added: 2, removed: 1 });
  });
  it("is empty of changes for equal texts", () => {
    expect(diffStats(lineDiff("p\nq", "p\nq"))).toEqual({ added: 0, removed: 0 });
  });
});
