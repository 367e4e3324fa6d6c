import { describe, expect, it } from "vitest";
import { placeholder, scrubValue } from "./credential-scrub";

const TOKEN = `eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJlbWFpbCI6ImFAYi5jIiwiaXNzIjoiZ2F0ZWhvdXNlIn0.${"Sig_-0".repeat(14)}`;
const SECRET = `gatehouse-console:${"A".repeat(40)}b-_`;

describe("scrubValue (what an approval request stores and shows)", () => {
  it("replaces credentials in every string of the value, same length, and leaves the rest as it was", () => {
    const request = { action: "exec", text: `curl -H "Authorization: Bearer ${TOKEN}" https://x`, params: [TOKEN, null, "plain"], nested: { n: 1, s: SECRET } };
    const out = scrubValue(request);
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(JSON.stringify(out)).not.toContain(SECRET);
    expect(out).toEqual({
      action: "exec",
      text: `curl -H "Authorization: Bearer ${placeholder(TOKEN.length)}" https://x`,
      params: [placeholder(TOKEN.length), null, "plain"],
      nested: { n: 1, s: placeholder(SECRET.length) },
    });
    expect(out.text).toHaveLength(request.text.length);
    // nothing to replace: the very value back, not a copy
    const clean = { text: "select 1", params: null };
    expect(scrubValue(clean)).toBe(clean);
    expect(scrubValue(`reason ${TOKEN}`)).toBe(`reason ${placeholder(TOKEN.length)}`);
  });

  it("a token next to characters JSON escapes is still found (quotes, newlines, unicode)", () => {
    const text = `select '\n"${TOKEN}"\u2028é'`;
    expect(scrubValue({ text }).text).toBe(`select '\n"${placeholder(TOKEN.length)}"\u2028é'`);
  });
});
