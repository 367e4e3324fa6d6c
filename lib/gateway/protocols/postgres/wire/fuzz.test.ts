import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  BACKEND_TAGS,
  build,
  encodeBackend,
  encodeFrontend,
  FRONTEND_TAGS,
  FrameReader,
  parseBackendMessage,
  parseFrontendMessage,
  parseStartupPacket,
  ProtocolError,
  type FrameReaderOptions,
} from "../wire";
import { backendMessage, frontendMessage } from "./arbitraries";

/**
 * Hostile byte streams: whatever arrives, in whatever segments, the reader and parsers either
 * produce messages or throw ProtocolError — never a RangeError/TypeError, never a hang, and
 * never an allocation larger than the configured maximum.
 */

/** Cuts `bytes` at sorted random offsets. */
function split(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

/** Feeds chunks, parses every frame; returns the parsed messages or the ProtocolError. */
function consume(chunks: Buffer[], opts: FrameReaderOptions, side: "frontend" | "backend"): unknown[] | ProtocolError {
  const r = new FrameReader(opts);
  const out: unknown[] = [];
  try {
    for (const c of chunks) {
      r.push(c);
      for (let f = r.next(); f; f = r.next()) {
        if (f.tag === "") out.push(parseStartupPacket(f));
        else out.push(side === "frontend" ? parseFrontendMessage(f) : parseBackendMessage(f));
      }
    }
    return out;
  } catch (err) {
    if (err instanceof ProtocolError) return err;
    throw err; // anything else is a bug the property reports
  }
}

const MAX = 512;
const readerOptions = fc.record({
  startup: fc.boolean(),
  allowedTags: fc.constantFrom(undefined, FRONTEND_TAGS, BACKEND_TAGS),
});

describe("fuzz", () => {
  afterEach(() => vi.restoreAllMocks());

  it("random bytes in random segments: only ProtocolError, allocations bounded by the maximum", () => {
    const allocUnsafe = vi.spyOn(Buffer, "allocUnsafe");
    const alloc = vi.spyOn(Buffer, "alloc");
    const concat = vi.spyOn(Buffer, "concat");
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 2048 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        readerOptions,
        fc.constantFrom("frontend" as const, "backend" as const),
        (bytes, cuts, opts, side) => {
          consume(split(Buffer.from(bytes), cuts), { ...opts, maxMessageSize: MAX, maxStartupSize: MAX }, side);
        },
      ),
      { numRuns: 3000 },
    );
    const sizes = [...allocUnsafe.mock.calls, ...alloc.mock.calls].map((c) => c[0] as number);
    expect(Math.max(0, ...sizes)).toBeLessThanOrEqual(MAX);
    expect(concat).not.toHaveBeenCalled();
  });

  it("plausible headers with random bodies (lengths that match) still fail only with ProtocolError", () => {
    const tags = (FRONTEND_TAGS + BACKEND_TAGS).split("");
    const frame = fc.tuple(fc.constantFrom(...tags), fc.uint8Array({ maxLength: 64 })).map(([tag, body]) => {
      const b = Buffer.alloc(5 + body.length);
      b[0] = tag.charCodeAt(0);
      b.writeInt32BE(4 + body.length, 1);
      b.set(body, 5);
      return b;
    });
    fc.assert(
      fc.property(fc.array(frame, { maxLength: 8 }), fc.array(fc.nat(), { maxLength: 8 }), fc.constantFrom("frontend" as const, "backend" as const), (frames, cuts, side) => {
        consume(split(Buffer.concat(frames), cuts), {}, side);
      }),
      { numRuns: 3000 },
    );
  });

  it("a valid frontend stream parses the same however it is segmented", () => {
    fc.assert(
      fc.property(fc.array(frontendMessage, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 20 }), (items, cuts) => {
        const msgs = items.filter((i) => i.auth === undefined).map((i) => i.msg); // 'p' needs context
        const startup = build.startupMessage({ user: "u", database: "d" });
        const bytes = Buffer.concat([startup, ...msgs.map(encodeFrontend)]);
        const whole = consume([bytes], { startup: true, allowedTags: FRONTEND_TAGS }, "frontend");
        const pieces = consume(split(bytes, cuts), { startup: true, allowedTags: FRONTEND_TAGS }, "frontend");
        expect(pieces).toEqual(whole);
        expect(whole).toEqual([parseStartupPacket({ tag: "", body: startup.subarray(4), raw: startup }), ...msgs]);
      }),
      { numRuns: 500 },
    );
  });

  it("a valid backend stream parses the same however it is segmented", () => {
    fc.assert(
      fc.property(fc.array(backendMessage, { maxLength: 10 }), fc.array(fc.nat(), { maxLength: 20 }), (msgs, cuts) => {
        const bytes = Buffer.concat(msgs.map(encodeBackend));
        const pieces = consume(split(bytes, cuts), { allowedTags: BACKEND_TAGS }, "backend");
        expect(pieces).toEqual(msgs);
      }),
      { numRuns: 500 },
    );
  });
});
