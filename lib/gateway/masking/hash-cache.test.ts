import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Hasher } from "./styles";

/**
 * The hash style's cache is skipped for a while after it filled with few hits (styles.ts): on
 * distinct values it costs more than it saves. Cached, skipped or neither, a value's token is
 * always HMAC-SHA256 under the key.
 */
const token = (key: string, value: string) => "h_" + createHmac("sha256", key).update(value, "utf8").digest("hex").slice(0, 12);

describe("Hasher cache", () => {
  it("gives every value its HMAC token through distinct runs (cache skipped), then repeats (cache used)", () => {
    const h = new Hasher("k");
    const phases = [
      Array.from({ length: 10_000 }, (_, i) => `user${i}@example.com`), // fills the cache with no hit: skipped from here
      Array.from({ length: 70_000 }, (_, i) => `other${i}@example.com`), // through the skip and past its end
      Array.from({ length: 30_000 }, (_, i) => `user${i % 100}@example.com`), // repeats: the cache fills with hits
      ["user0@example.com", "user99@example.com", "fresh@example.com"],
    ];
    for (const values of phases) {
      const got = values.map((v) => h.hash(v));
      const want = values.map((v) => token("k", v));
      expect(got.findIndex((t, i) => t !== want[i])).toBe(-1);
    }
  });

  it("for any sequence of values: the same tokens as a fresh hasher per value", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom("a", "b", "c")), { maxLength: 300 }), (values) => {
        const h = new Hasher("k2");
        for (const v of values) expect(h.hash(v)).toBe(new Hasher("k2").hash(v));
      }),
    );
  });
});
