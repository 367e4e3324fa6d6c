import { createHmac } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { HmacSha256 } from "./hmac-sha256";

const reference = (key: Uint8Array, value: string) => createHmac("sha256", key).update(value, "utf8").digest("hex");

/** Any UTF-16 string, lone surrogates included (both sides encode them as U+FFFD). */
const utf16 = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 150 }).map((units) => String.fromCharCode(...units));

describe("HmacSha256", () => {
  it("equals node:crypto for any key and value", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 150 }), fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: "binary", maxLength: 80 }), utf16), (key, value) => {
        expect(new HmacSha256(key).hex(value, 64)).toBe(reference(key, value));
      }),
      { numRuns: 1000 },
    );
  });

  it("equals node:crypto at every padding boundary (messages of 0 to 200 bytes, keys to 130)", () => {
    for (const keyLength of [1, 32, 63, 64, 65, 130]) {
      const key = Uint8Array.from({ length: keyLength }, (_, i) => (i * 37 + 11) & 0xff);
      const h = new HmacSha256(key);
      for (let n = 0; n <= 200; n++) expect(h.hex("x".repeat(n), 64)).toBe(reference(key, "x".repeat(n)));
    }
  });

  it("returns any prefix of the hex digest, and one instance serves many values", () => {
    const key = new TextEncoder().encode("k");
    const h = new HmacSha256(key);
    for (const value of ["a", "é😀", "a".repeat(1000), ""]) {
      for (const digits of [1, 2, 7, 12, 16, 33, 64]) expect(h.hex(value, digits)).toBe(reference(key, value).slice(0, digits));
    }
  });
});
