import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeholder, scrubJson, scrubValue } from "./credential-scrub";

/**
 * Every recorded event and every stored approval text goes through scrubJson. It was one regular
 * expression, which backtracked over every "eyJ" to the next "." and back: 90 KB of "eyJeyJ…" in
 * one statement or command held the gateway's event loop (every session) for seconds, and the
 * time grew with the square of the length. It is now one pass; these pin it to the same answers.
 */
const REFERENCE = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{16,}[A-Za-z0-9_.-]*|gatehouse-console:[A-Za-z0-9_-]{43}/g;
const reference = (json: string) => json.replace(REFERENCE, (m) => placeholder(m.length));

describe("scrubJson", () => {
  it("answers as the regular expression does", () => {
    // token-ish pieces, so that matches, near-misses and glued runs are common
    const piece = fc.constantFrom("eyJ", ".", "abcdefgh", "abcdefghijklmnop", "-", "_", "e", "y", "J", " ", '"', ":", "gatehouse-console:", "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg", "é");
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const json = JSON.stringify({ text: pieces.join("") });
        expect(scrubJson(json)).toBe(reference(json));
      }),
      { numRuns: 3000 },
    );
  });

  it("a real-looking token, glued ones, and a console secret", () => {
    const token = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1QHguZXhhbXBsZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";
    const secret = `gatehouse-console:${"k".repeat(43)}`;
    for (const text of [`Bearer ${token}`, `${token}${token}`, `eyJ.${token} x`, `${secret} and ${token}`]) {
      const json = JSON.stringify({ text });
      expect(scrubJson(json), text).toBe(reference(json));
      expect(scrubJson(json)).not.toContain("c2lnbmF0dXJl");
    }
    expect(scrubValue({ text: `a ${token} b` }).text).toMatch(/^a \[REDACTED gatehouse credential\**\] b$/);
  });

  it("stays linear: 300 KB of token starts take milliseconds, not minutes", () => {
    for (const text of ["eyJ".repeat(100_000), `eyJ${"a".repeat(300_000)}`, "eyJaaaaaaaa.".repeat(25_000)]) {
      const t = performance.now();
      scrubJson(JSON.stringify({ text }));
      expect(performance.now() - t).toBeLessThan(1_500); // ~10 ms here; the regular expression: ~48 s for the first
    }
  });
});
