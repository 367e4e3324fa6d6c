import { describe, expect, it } from "vitest";
import { withoutTokens } from "./redact";

describe("withoutTokens", () => {
  const jwt = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl_-x";

  it("replaces a token wherever it stands, and every one of them", () => {
    expect(withoutTokens(jwt)).toBe("[REDACTED token]");
    expect(withoutTokens(` ${jwt}\n`)).toBe(" [REDACTED token]\n");
    expect(withoutTokens(`user "${jwt}" does not own "${jwt}."`)).toBe('user "[REDACTED token]" does not own "[REDACTED token]."');
    expect(withoutTokens("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")).toBe("[REDACTED token]");
  });

  it("leaves names alone", () => {
    for (const name of ["dev@example.test", "demo-postgres", "eyJ", "first.last@corp.example", "a.b.c"]) expect(withoutTokens(name)).toBe(name);
  });
});
