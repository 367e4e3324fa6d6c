import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashPassword, verifyPassword } from "./password";
import { open, seal } from "./secrets";

describe("secret envelopes", () => {
  const key = randomBytes(32);
  it("round-trips and never contains the plaintext", () => {
    const env = seal("hunter2-password", key);
    expect(env).not.toContain("hunter2");
    expect(open(env, key)).toBe("hunter2-password");
  });
  it("refuses a tampered ciphertext or the wrong key", () => {
    const env = seal("secret", key);
    const parts = env.split(".");
    const ct = Buffer.from(parts[3], "base64url");
    ct[0] ^= 1;
    parts[3] = ct.toString("base64url");
    expect(() => open(parts.join("."), key)).toThrow();
    expect(() => open(env, randomBytes(32))).toThrow();
  });
});

describe("password hashing", () => {
  it("verifies the right password only", async () => {
    const h = await hashPassword("correct horse battery");
    expect(h.startsWith("scrypt$")).toBe(true);
    expect(await verifyPassword("correct horse battery", h)).toBe(true);
    expect(await verifyPassword("correct horse batterY", h)).toBe(false);
    expect(await verifyPassword("anything", null)).toBe(false);
    expect(await verifyPassword("anything", "garbage")).toBe(false);
  });
});
