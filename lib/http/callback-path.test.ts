import { describe, expect, it } from "vitest";
import { safeCallbackPath } from "./callback-path";

describe("safeCallbackPath", () => {
  it("keeps same-origin paths with their query and fragment", () => {
    expect(safeCallbackPath("/sessions/abc?tab=replay#t=3")).toBe("/sessions/abc?tab=replay#t=3");
    expect(safeCallbackPath("/approvals/12")).toBe("/approvals/12");
  });

  it("refuses everything that a browser would resolve to another origin", () => {
    for (const evil of [
      "https://evil.example",
      "//evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      // the browser drops tabs and newlines before resolving: these are //evil.example
      "/\t/evil.example",
      "/\n/evil.example",
      "/\r\n/evil.example",
      "/\t\\evil.example",
      " //evil.example",
      "javascript:alert(1)",
    ]) {
      expect({ evil, got: safeCallbackPath(evil) }).toEqual({ evil, got: "/overview" });
    }
  });

  it("what it returns resolves to this origin in a WHATWG URL parser (the browser's)", () => {
    for (const input of ["/\t/x", "/a\tb", "/%09/evil.example", "/..//evil.example", "/.//evil.example"]) {
      const out = safeCallbackPath(input);
      expect(new URL(out, "https://console.example").origin).toBe("https://console.example");
    }
  });

  it("falls back on empty, missing and oversized values", () => {
    expect(safeCallbackPath(undefined)).toBe("/overview");
    expect(safeCallbackPath("")).toBe("/overview");
    expect(safeCallbackPath("/" + "a".repeat(3000))).toBe("/overview");
  });
});
