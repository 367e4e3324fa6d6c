import { describe, expect, it } from "vitest";
import { connectionInput, connectionPatch } from "./input";

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
});
