import { describe, expect, it } from "vitest";
import { Hasher, maskPartial, redactMarker } from "./styles";

describe("partial style", () => {
  it("keeps the last N letters/digits and the separators", () => {
    expect(maskPartial("4111-1111-1111-1234", 4)).toBe("****-****-****-1234");
    expect(maskPartial("123-45-6789", 4)).toBe("***-**-6789");
    expect(maskPartial("alice@example.com", 3)).toBe("*****@*******.com");
    expect(maskPartial("Müller", 2)).toBe("****er");
  });

  it("masks everything when the value has N or fewer letters/digits", () => {
    expect(maskPartial("1234", 4)).toBe("****");
    expect(maskPartial("12-3", 4)).toBe("**-*");
    expect(maskPartial("", 4)).toBe("");
  });

  it("keeps nothing with keepLast 0", () => {
    expect(maskPartial("secret", 0)).toBe("******");
  });
});

describe("hash style", () => {
  it("is deterministic under one key", () => {
    const h = new Hasher("key-1");
    expect(h.hash("alice@example.com")).toBe(h.hash("alice@example.com"));
    expect(new Hasher("key-1").hash("alice@example.com")).toBe(h.hash("alice@example.com"));
  });

  it("has the documented shape and is HMAC-SHA256", () => {
    // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") = f7bc83f430538424...
    expect(new Hasher("key").hash("The quick brown fox jumps over the lazy dog")).toBe("h_f7bc83f43053");
    expect(new Hasher(new TextEncoder().encode("key")).hash("x")).toBe(new Hasher("key").hash("x"));
  });

  it("depends on the key and the input", () => {
    expect(new Hasher("key-1").hash("alice")).not.toBe(new Hasher("key-2").hash("alice"));
    expect(new Hasher("key-1").hash("alice")).not.toBe(new Hasher("key-1").hash("alicf"));
  });

  it("refuses an empty key", () => {
    expect(() => new Hasher("")).toThrow(/empty/);
  });

  it("keeps answering correctly after the cache fills up", () => {
    const h = new Hasher("k");
    const first = h.hash("v0");
    for (let i = 1; i < 10_000; i++) h.hash(`v${i}`);
    expect(h.hash("v0")).toBe(first);
  });
});

describe("redact style", () => {
  it("names the detector in the marker", () => {
    expect(redactMarker("email")).toBe("[REDACTED:email]");
  });
});
