import { describe, expect, it } from "vitest";
import { scrubBytes, scrubJson, scrubText } from "./credential-scrub";

/**
 * A token written right behind something token-shaped: the scrubber matched the first
 * token-shaped run greedily (a JWS signature segment takes any token characters), so a second
 * token glued behind a first lost only its header to the first match, and "eyJ." in front of a
 * token made the whole run fail to match at its start. The payload and signature stayed in the
 * recording; every Gatehouse token has the same header, so the token could be put back together.
 */
const TOKEN = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyQGV4YW1wbGUudGVzdCIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl";
const [, PAYLOAD, SIGNATURE] = TOKEN.split(".");

function leaks(recorded: string): boolean {
  return recorded.includes(PAYLOAD) || recorded.includes(SIGNATURE);
}

describe("credentials glued to other token characters", () => {
  const cases: [string, string][] = [
    ["two tokens back to back", TOKEN + TOKEN],
    ["a token after an 'e'", `${TOKEN}e${TOKEN}`],
    ["a token after a cursor move inside the run", `${TOKEN}e\x1b[C${TOKEN}`],
    ["a token after 'eyJ.'", `eyJ.${TOKEN}`],
    ["a token after a token-shaped word", `eyJnot-a-token.${TOKEN} done`],
  ];

  for (const [name, text] of cases) {
    it(`terminal output: ${name}`, () => {
      const out = scrubBytes(Buffer.from(`$ cat tokens\r\n${text}\r\n`), true).body.toString("latin1");
      expect(leaks(out)).toBe(false);
      expect(out.length).toBe(`$ cat tokens\r\n${text}\r\n`.length);
    });

    it(`typed input: ${name}`, () => {
      expect(leaks(scrubText(`export T=${text}\r`, true).text)).toBe(false);
    });
  }

  it("recorded events (as JSON): two tokens back to back", () => {
    const json = JSON.stringify({ text: `curl -H 'Authorization: Bearer ${TOKEN}${TOKEN}' x` });
    const out = scrubJson(json);
    expect(leaks(out)).toBe(false);
    expect(JSON.parse(out).text).toMatch(/^curl -H 'Authorization: Bearer \[REDACTED gatehouse credential\**\]' x$/);
  });

  it("leaves text around a credential alone", () => {
    const out = scrubBytes(Buffer.from(`token: ${TOKEN} (expires soon)`), true).body.toString();
    expect(out.startsWith("token: [REDACTED gatehouse credential")).toBe(true);
    expect(out.endsWith("] (expires soon)")).toBe(true);
  });
});
