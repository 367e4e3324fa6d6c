import fc from "fast-check";
import { describe, expect, it } from "vitest";
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

/**
 * Records every Buffer allocation made while `fn` runs (vi.spyOn keeps every call and slows
 * thousands of runs to a crawl; this keeps two numbers).
 */
function trackAllocations(fn: () => void): { largest: number; count: number } {
  const seen = { largest: 0, count: 0 };
  const real = { alloc: Buffer.alloc, allocUnsafe: Buffer.allocUnsafe, allocUnsafeSlow: Buffer.allocUnsafeSlow, concat: Buffer.concat };
  const note = (n: number) => {
    seen.largest = Math.max(seen.largest, n);
    seen.count++;
  };
  Buffer.alloc = ((n: number, ...rest: never[]) => (note(n), real.alloc(n, ...rest))) as typeof Buffer.alloc;
  Buffer.allocUnsafe = ((n: number) => (note(n), real.allocUnsafe(n))) as typeof Buffer.allocUnsafe;
  Buffer.allocUnsafeSlow = ((n: number) => (note(n), real.allocUnsafeSlow(n))) as typeof Buffer.allocUnsafeSlow;
  Buffer.concat = ((list: readonly Uint8Array[], n?: number) => {
    const out = real.concat(list, n);
    note(out.length);
    return out;
  }) as typeof Buffer.concat;
  try {
    fn();
  } finally {
    Object.assign(Buffer, real);
  }
  return seen;
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
  /**
   * Streams mixing raw garbage with frame-shaped pieces whose length words are right, a little
   * off, negative, or huge — random bytes alone almost never form a complete frame.
   */
  const tags = (FRONTEND_TAGS + BACKEND_TAGS).split("");
  const piece = fc.oneof(
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc
      .tuple(fc.constantFrom(...tags, "\0", "\xff"), fc.uint8Array({ maxLength: 700, size: "max" }), fc.oneof(fc.constant(0), fc.integer({ min: -8, max: 8 }), fc.integer({ min: -0x80000000, max: 0x7fffffff })))
      .map(([tag, body, skew]) => {
        const b = Buffer.alloc(5 + body.length);
        b[0] = tag.charCodeAt(0);
        b.writeInt32BE((4 + body.length + skew) | 0, 1);
        b.set(body, 5);
        return b;
      }),
    fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: -16, max: 16 })).map(([body, skew]) => {
      const b = Buffer.alloc(4 + body.length); // untyped startup-phase shape
      b.writeInt32BE(4 + body.length + skew, 0);
      b.set(body, 4);
      return b;
    }),
  );

  it("hostile streams in random segments: only ProtocolError, allocations bounded by the maximum", () => {
    let largest = 0;
    let copies = 0;
    fc.assert(
      fc.property(
        fc.array(piece, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        readerOptions,
        fc.constantFrom("frontend" as const, "backend" as const),
        (pieces, cuts, opts, side) => {
          const chunks = split(Buffer.concat(pieces), cuts);
          const seen = trackAllocations(() => consume(chunks, { ...opts, maxMessageSize: MAX, maxStartupSize: MAX }, side));
          expect(seen.largest).toBeLessThanOrEqual(MAX);
          largest = Math.max(largest, seen.largest);
          copies += seen.count;
        },
      ),
      // Shrinking kilobyte streams takes minutes; the first counterexample is readable enough.
      { numRuns: 3000, endOnFailure: true },
    );
    // The tracker sees the reader's copies of frames that span segments: these checks can fail.
    expect(copies).toBeGreaterThan(0);
    expect(largest).toBeGreaterThan(MAX / 2);
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
