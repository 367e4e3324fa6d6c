import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scrubBytes } from "./credential-scrub";
import { PACK_MIN } from "./packed-output";
import type { SessionRecorder } from "./recorder";
import { TerminalRecorder } from "./terminal";

/**
 * Bulk output arrives in 32 KiB packets, and the recorder holds back a packet's last bytes when
 * they may begin a credential ("e", "ey") or end in an incomplete character. What it records
 * must be the output with Gatehouse credentials replaced, wherever the packets were cut, and the
 * packet after held bytes must not be copied to be recorded (that copy was most of the cost of
 * recording `yes` or random output).
 */
interface Captured {
  bytes: Buffer[];
  /** the byte parts of each bulk event, as handed over */
  bulk: (Buffer | readonly Buffer[])[];
}

function capture(): { rec: SessionRecorder; got: Captured } {
  const got: Captured = { bytes: [], bulk: [] };
  const rec = {
    record(kind: string, payload: Record<string, unknown>) {
      if (kind !== "term.o") return;
      got.bytes.push(typeof payload.d === "string" ? Buffer.from(payload.d, "utf8") : Buffer.from(String(payload.b64), "base64"));
    },
    recordBulk(_kind: string, _fields: Record<string, unknown>, bytes: Buffer | readonly Buffer[]) {
      got.bulk.push(bytes);
      got.bytes.push(Buffer.concat(Buffer.isBuffer(bytes) ? [bytes] : [...bytes]));
    },
  };
  return { rec: rec as unknown as SessionRecorder, got };
}

function recordAll(chunks: Buffer[]): Captured {
  const { rec, got } = capture();
  const term = new TerminalRecorder(rec);
  term.start(0, { mode: "exec", cols: 80, rows: 24, term: "" });
  for (const c of chunks) term.output(0, c);
  term.close(0);
  return got;
}

const PACKET = 32 * 1024;
const TOKEN_CHAR = /[A-Za-z0-9_.-]/;
/** a token-shaped credential (compact JWS) */
const TOKEN = "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ1c2VyQGV4YW1wbGUudGVzdCJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU";

const [, PAYLOAD, SIGNATURE] = TOKEN.split(".");
const leaks = (recorded: Buffer) => recorded.includes(PAYLOAD) || recorded.includes(SIGNATURE);

describe("TerminalRecorder at packet seams", () => {
  it("records a packet that follows held-back bytes without copying it", () => {
    // `yes` output cut every 32 KiB: the first packet ends in "line" (its "e" may start a token)
    const text = Buffer.from("log line 0123456789 ".repeat(5).trim() + "\n");
    const stream = Buffer.alloc(2 * PACKET, text);
    const first = stream.subarray(0, PACKET);
    const second = stream.subarray(PACKET);
    expect(first.toString("latin1").endsWith("e")).toBe(true);
    const got = recordAll([first, second]);
    expect(Buffer.concat(got.bytes).equals(stream)).toBe(true);
    // the second event is the held "e", then the packet's own memory (a view of it, not a copy)
    const parts = got.bulk[1];
    expect(Array.isArray(parts)).toBe(true);
    const [held, packet] = parts as Buffer[];
    expect(held.toString()).toBe("e");
    expect(packet.buffer).toBe(second.buffer);
    expect(packet.byteOffset).toBe(second.byteOffset);
  });

  it("still copies the packet behind held bytes that may begin a credential with it, and replaces the credential", () => {
    const cut = 5;
    const stream = Buffer.concat([Buffer.alloc(PACKET - cut, "a"), Buffer.from(` ${TOKEN} `), Buffer.alloc(PACKET, "b")]);
    const got = recordAll([stream.subarray(0, PACKET), stream.subarray(PACKET)]);
    const recorded = Buffer.concat(got.bytes);
    expect(recorded.length).toBe(stream.length);
    expect(recorded.includes(TOKEN)).toBe(false);
    expect(recorded.toString("latin1")).toContain("[REDACTED gatehouse credential");
  });

  it("records no credential and changes nothing else, wherever the packets are cut", () => {
    const piece = fc.oneof(
      fc.constant(TOKEN),
      fc.constant("e"),
      fc.constant("ey"),
      fc.constant("ü€"),
      fc.constant("\x1b[C"),
      fc.string({ unit: fc.constantFrom("a", "e", "y", "J", " ", "\n", ".", "é"), maxLength: 40 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 60 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 3 })), { minLength: 1, maxLength: 4 }), (pieces, picks) => {
        // the pieces repeated into bulk-sized output, cut just after an "e" (where a token may
        // begin) or anywhere, at cuts at least a packet's minimum apart
        // (a space between whole repetitions: one run of token characters stays shorter than MAX_HOLD)
        const unit = Buffer.from(pieces.join("") + " ", "utf8");
        const stream = Buffer.concat(Array.from({ length: Math.ceil((6 * PACK_MIN) / unit.length) }, () => unit));
        const es = [...stream.entries()].filter(([, b]) => b === 0x65).map(([i]) => i);
        const at: number[] = [];
        for (const [n, k] of picks) {
          const c = es.length && n % 2 ? es[n % es.length] + k : n % stream.length;
          if (c < stream.length && at.every((x) => Math.abs(x - c) >= PACK_MIN)) at.push(c);
        }
        at.sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let from = 0;
        for (const c of [...at, stream.length]) {
          if (c > from) chunks.push(stream.subarray(from, c));
          from = Math.max(from, c);
        }
        const recorded = Buffer.concat(recordAll(chunks).bytes);
        // Where a packet was cut may change how a run's placeholder is laid out, nothing else: the
        // same bytes, no part of a credential left, and everything but token characters as it was.
        expect(recorded.length).toBe(stream.length);
        expect(leaks(recorded)).toBe(false);
        for (let i = 0; i < stream.length; i++) if (!TOKEN_CHAR.test(String.fromCharCode(stream[i])) && recorded[i] !== stream[i]) expect.fail(`byte ${i} changed`);
        expect(leaks(scrubBytes(stream, true).body)).toBe(false);
      }),
      { numRuns: 100 },
    );
  });
});
