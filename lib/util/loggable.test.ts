import { DrizzleQueryError } from "drizzle-orm/errors";
import { describe, expect, it } from "vitest";
import { loggable } from "./loggable";

describe("loggable", () => {
  it("logs a failed query's SQL and cause, never its parameters", () => {
    const cause = Object.assign(new Error("duplicate key value violates unique constraint"), { code: "23505" });
    const err = new DrizzleQueryError("insert into users (email, password_hash) values ($1, $2)", ["a@x", "$scrypt$secret-hash"], cause);
    expect(err.message).toContain("secret-hash"); // what drizzle would have logged
    const line = loggable(err);
    expect(line).toBe("failed query: insert into users (email, password_hash) values ($1, $2): duplicate key value violates unique constraint (23505)");
    expect(line).not.toContain("secret-hash");
  });
  it("keeps other errors' stacks", () => {
    expect(loggable(new TypeError("x is undefined"))).toMatch(/^TypeError: x is undefined\n\s+at /);
    expect(loggable("plain")).toBe("plain");
  });
});
