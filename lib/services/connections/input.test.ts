import { describe, expect, it } from "vitest";
import { connectionInput, connectionPatch, upstreamWithoutPassword } from "./input";

describe("connection input", () => {
  it("a new connection gets defaults for what it leaves out", () => {
    expect(connectionInput.parse({ name: "db", type: "postgres", upstream: "postgres://h:5432/app" })).toMatchObject({ username: "", tags: [], options: {}, description: "" });
  });

  it("a patch holds only the fields it names: the rest of the connection is kept", () => {
    expect(connectionPatch.parse({ tags: ["prod"] })).toEqual({ tags: ["prod"] });
    expect(connectionPatch.parse({ secret: "" })).toEqual({ secret: "" });
    expect(connectionPatch.parse({})).toEqual({});
    expect(() => connectionPatch.parse({ tags: ["no spaces"] })).toThrow();
  });

  it("refuses a password in the upstream URL (every user may read the upstream); a user name is fine", () => {
    expect(() => connectionInput.parse({ name: "db", type: "postgres", upstream: "postgres://app:s3cret@h:5432/app" })).toThrow(/secret/);
    expect(() => connectionPatch.parse({ upstream: "ssh://root:pw@h:22" })).toThrow(/secret/);
    expect(connectionInput.parse({ name: "db", type: "ssh", upstream: "ssh://deploy@h:22" }).upstream).toBe("ssh://deploy@h:22");
  });

  it("shows an upstream stored with a password without it", () => {
    expect(upstreamWithoutPassword("postgres://app:s3cret@h:5432/app")).toBe("postgres://app@h:5432/app");
    expect(upstreamWithoutPassword("ssh://h:22")).toBe("ssh://h:22");
  });
});
