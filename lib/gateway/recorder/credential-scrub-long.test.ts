import { describe, expect, it } from "vitest";
import { MAX_HOLD, scrubBytes, scrubText } from "./credential-scrub";

/**
 * A token glued into a run of token characters longer than the scrubber's window (MAX_HOLD): the
 * run was looked at only as far as the window, and the search went on from the window's end. A
 * token across that end was matched in neither piece (its header in one, its payload and
 * signature, two segments, in the other): they were recorded as they were.
 */
const TOKEN = "eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIn0.eyJzdWIiOiJ1c2VyQGV4YW1wbGUudGVzdCIsImV4cCI6OTk5OTk5OTk5OX0.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl";
const [HEADER, PAYLOAD, SIGNATURE] = TOKEN.split(".");
const leaks = (recorded: string) => recorded.includes(PAYLOAD) || recorded.includes(SIGNATURE) || recorded.includes(`${HEADER}.`);

/** "eyJ" and filler, then the token `at` characters into the run, then more filler. */
const run = (at: number, after = 0) => `eyJ${"A".repeat(at - 3)}${TOKEN}${"B".repeat(after)}`;

describe("a credential inside a run of token characters longer than the window", () => {
  // around the window's end (MAX_HOLD + 1 characters), and around the ends of the windows after it
  const offsets = [-200, -40, -20, -1, 0, 1, 20].flatMap((d) => [MAX_HOLD + 1 + d, 2 * MAX_HOLD + d, Math.floor(MAX_HOLD * 1.5) + d, 3 * MAX_HOLD + 7 + d]);

  for (const at of offsets) {
    it(`terminal output: the token ${at} characters into the run`, () => {
      const text = `$ cat run\r\n${run(at, 50)}\r\n$ `;
      const out = scrubBytes(Buffer.from(text), true).body.toString("latin1");
      expect(leaks(out)).toBe(false);
      expect(out.length).toBe(text.length);
      expect(out.startsWith("$ cat run\r\n")).toBe(true);
      expect(out.endsWith("\r\n$ ")).toBe(true);
    });
  }

  it("typed input, and a run that ends the write (not the last one)", () => {
    for (const at of [MAX_HOLD - 10, MAX_HOLD + 1 - 10, 2 * MAX_HOLD - 30]) {
      expect(leaks(scrubText(`export T=${run(at)}\r`, true).text), String(at)).toBe(false);
      // streamed: what is not held back is recorded now, the held rest with the next write
      const first = scrubBytes(Buffer.from(run(at)), false);
      const rest = scrubBytes(Buffer.concat([first.hold ?? Buffer.alloc(0), Buffer.from(" done\r\n")]), true);
      expect(leaks(first.body.toString("latin1") + rest.body.toString("latin1")), String(at)).toBe(false);
    }
  });

  it("a long run without a credential is recorded as it is", () => {
    const text = `eyJ${"x".repeat(5 * MAX_HOLD)}.eyJ${"y".repeat(100)}\r\n`;
    expect(scrubBytes(Buffer.from(text), true).body.toString()).toBe(text);
  });

  it("a run of many token starts stays fast (the window slides, it does not restart at every start)", () => {
    const text = Buffer.from("eyJ".repeat(200_000)); // 600 KB
    const t = performance.now();
    scrubBytes(text, true);
    expect(performance.now() - t).toBeLessThan(1_500); // ~15 ms here; the regular expression took 5 s
  });
});
