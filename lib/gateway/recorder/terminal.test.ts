import crypto from "node:crypto";
import { deflateRawSync } from "node:zlib";
import fc from "fast-check";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { sessionEvents } from "@/db/schema";
import { PACK_MIN, unpackPayload } from "./packed-output";
import { SessionRecorder } from "./recorder";
import { TerminalRecorder } from "./terminal";
import { compileMasker } from "@/lib/gateway/masking";
import { DETECTOR_NAMES } from "@/lib/gateway/masking/catalog";

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/**
 * The terminal recorder against a real (embedded) database: what a reader gets back through the
 * session-event queries must be exactly the bytes that were sent, whatever the chunking, and
 * whether the output was stored packed, as text or as base64.
 */
describe("TerminalRecorder", () => {
  let handle: DbHandle;
  let n = 0;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  type Stored = { payload: Record<string, unknown>; data: Buffer | null };
  async function roundTrip(chunks: Buffer[]): Promise<{ bytes: Buffer; stored: Stored[]; read: Record<string, unknown>[] }> {
    const id = uuid(++n);
    const rec = new SessionRecorder(handle.db, id);
    const term = new TerminalRecorder(rec);
    term.start(0, { mode: "exec", cols: 80, rows: 24, term: "" });
    for (const c of chunks) term.output(0, c);
    term.exit(0, { code: 0 });
    term.close(0);
    expect(await rec.close()).toBe(0);
    const stored = (await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, id)).orderBy(asc(sessionEvents.seq)))
      .filter((r) => r.kind === "term.o")
      .map((r) => ({ payload: r.payload, data: r.data }));
    const read: Record<string, unknown>[] = [];
    for (let after = 0; ; ) {
      const page = await sessionEventsPage(handle.db, id, after, 500);
      if (!page.length) break;
      after = page[page.length - 1].seq;
      read.push(...page.filter((e) => e.kind === "term.o").map((e) => e.payload as Record<string, unknown>));
    }
    const bytes = Buffer.concat(read.map((p) => (typeof p.d === "string" ? Buffer.from(p.d, "utf8") : Buffer.from(String(p.b64), "base64"))));
    return { bytes, stored, read };
  }

  it("stores large text output deflated as bytes and reads it back as the exact text, never as bytes", async () => {
    const line = Buffer.from("build step 17: compiling module ü€ — ok\n");
    const chunks = Array.from({ length: 2000 }, () => line);
    const { bytes, stored, read } = await roundTrip(chunks);
    expect(bytes.equals(Buffer.concat(chunks))).toBe(true);
    expect(stored.some((r) => r.payload.bin === "z" && r.data)).toBe(true);
    const storedSize = stored.reduce((s, r) => s + JSON.stringify(r.payload).length + (r.data?.length ?? 0), 0);
    expect(storedSize).toBeLessThan(Buffer.concat(chunks).length / 5);
    expect(read.every((p) => p.bin === undefined && p.n === undefined && typeof p.d === "string")).toBe(true);
  });

  it("stores output that does not compress as raw bytes, not base64, and reads it back as base64", async () => {
    const random = crypto.randomBytes(256 * 1024);
    const { bytes, stored, read } = await roundTrip([random]);
    expect(bytes.equals(random)).toBe(true);
    const bulk = stored.filter((r) => r.data);
    expect(bulk.every((r) => r.payload.bin === "raw" && r.payload.b64 === undefined)).toBe(true);
    // all but an incomplete-looking UTF-8 sequence at the very end (≤ 3 bytes, recorded on its own)
    expect(bulk.reduce((n, r) => n + r.data!.length, 0)).toBeGreaterThanOrEqual(random.length - 3);
    expect(read.every((p) => typeof p.b64 === "string" && p.bin === undefined)).toBe(true);
  });

  it("records output with NUL bytes and invalid UTF-8 byte for byte (base64, not U+2400)", async () => {
    const chunks = [Buffer.from([0x61, 0, 0x62]), Buffer.from([0xff, 0xfe, 0x41]), Buffer.alloc(PACK_MIN * 3), crypto.randomBytes(PACK_MIN * 2)];
    const { bytes } = await roundTrip(chunks);
    expect(bytes.equals(Buffer.concat(chunks))).toBe(true);
  });

  it("keeps a multi-byte character split across chunks whole", async () => {
    const euro = Buffer.from("€");
    const { bytes, read } = await roundTrip([Buffer.concat([Buffer.from("price "), euro.subarray(0, 1)]), euro.subarray(1)]);
    expect(bytes.toString("utf8")).toBe("price €");
    expect(read.every((p) => typeof p.d === "string")).toBe(true);
  });

  it("property: any chunking of any bytes (text-like or random) reads back identical", async () => {
    const piece = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 300 }).map((s) => Buffer.from(s)),
      fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)),
      // long runs of lines: enough to be packed
      fc.integer({ min: 1, max: 200 }).map((k) => Buffer.from(("a".repeat(100) + "\n").repeat(k))),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(piece, { maxLength: 60 }), async (chunks) => {
        const { bytes } = await roundTrip(chunks);
        expect(bytes.equals(Buffer.concat(chunks))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it("a damaged packed payload reads as an error on that event, not as a failed page", () => {
    expect(unpackPayload("term.o", { ch: 0, z: "not deflate at all", n: 5 })).toMatchObject({ ch: 0, error: expect.stringMatching(/damaged/) });
    expect(unpackPayload("term.o", { ch: 0, bin: "z", n: 5 }, Buffer.from("not deflate"))).toMatchObject({ ch: 0, error: expect.stringMatching(/damaged/) });
    expect(unpackPayload("term.o", { ch: 0, bin: "raw", n: 5 }, Buffer.from("abc"))).toMatchObject({ ch: 0, error: expect.stringMatching(/3 of 5/) });
    expect(unpackPayload("request", { z: "left alone" })).toEqual({ z: "left alone" });
  });

  it("reads rows stored before bytea storage (base64 deflate in the payload)", () => {
    const z = deflateRawSync(Buffer.from("old recording\n")).toString("base64");
    expect(unpackPayload("term.o", { ch: 1, z, n: 14 })).toEqual({ ch: 1, d: "old recording\n" });
  });

  it("records each channel's input through its own decision's masking, whichever channel was decided last", async () => {
    const id = uuid(++n);
    const rec = new SessionRecorder(handle.db, id);
    const term = new TerminalRecorder(rec);
    const masker = compileMasker([{ id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" }], { hashKey: "k" });
    term.start(1, { mode: "shell", cols: 80, rows: 24, term: "xterm" }, masker);
    // A second channel of the same connection, decided unmasked after the first.
    term.start(2, { mode: "shell", cols: 80, rows: 24, term: "xterm" }, null);
    term.input(1, Buffer.from("echo alice.smith@corp-example.com\r"));
    term.input(2, Buffer.from("echo bob.jones@corp-example.com\r"));
    expect(await rec.close()).toBe(0);
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, id)).orderBy(asc(sessionEvents.seq));
    const of = (ch: number) => JSON.stringify(rows.filter((r) => (r.payload as { ch?: number }).ch === ch && r.kind.startsWith("term.")).map((r) => r.payload));
    expect(of(1)).not.toContain("alice.smith");
    expect(of(1)).toContain("echo ");
    expect(of(2)).toContain("bob.jones@corp-example.com");
  });
});
