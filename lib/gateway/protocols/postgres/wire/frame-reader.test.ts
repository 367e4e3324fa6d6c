import { describe, expect, it } from "vitest";
import { BACKEND_TAGS, build, FRONTEND_TAGS, FrameReader, parseFrontendMessage, parseStartupPacket, ProtocolError, type Frame } from "../wire";

function drain(r: FrameReader): Frame[] {
  const out: Frame[] = [];
  for (let f = r.next(); f; f = r.next()) out.push(f);
  return out;
}

const typedHeader = (tag: string, len: number) => {
  const b = Buffer.alloc(5);
  b[0] = tag.charCodeAt(0);
  b.writeInt32BE(len | 0, 1);
  return b;
};

describe("FrameReader", () => {
  it("frames many messages in one chunk, as zero-copy views of that chunk", () => {
    const chunk = Buffer.concat([build.query("select 1"), build.sync(), build.terminate()]);
    const r = new FrameReader();
    r.push(chunk);
    const frames = drain(r);
    expect(frames.map((f) => f.tag)).toEqual(["Q", "S", "X"]);
    expect(frames[0].raw.buffer).toBe(chunk.buffer);
    expect(parseFrontendMessage(frames[0])).toEqual({ type: "Query", text: "select 1" });
    expect(r.buffered).toBe(0);
  });

  it("reassembles a message split byte by byte", () => {
    const msg = build.query("select 'split across segments'");
    const r = new FrameReader();
    for (let i = 0; i < msg.length - 1; i++) {
      r.push(msg.subarray(i, i + 1));
      expect(r.next()).toBeNull();
    }
    r.push(msg.subarray(msg.length - 1));
    const f = r.next()!;
    expect(f.raw).toEqual(msg);
    expect(r.next()).toBeNull();
  });

  it("switches from startup to typed framing after a 3.0 StartupMessage, not after SSLRequest", () => {
    const r = new FrameReader({ startup: true });
    r.push(build.sslRequest());
    expect(parseStartupPacket(r.next()!)).toEqual({ type: "SSLRequest" });
    expect(r.mode).toBe("startup");
    r.push(Buffer.concat([build.startupMessage({ user: "a", database: "b" }), build.query("select 1")]));
    expect(parseStartupPacket(r.next()!).type).toBe("StartupMessage");
    expect(r.mode).toBe("typed");
    expect(parseFrontendMessage(r.next()!)).toEqual({ type: "Query", text: "select 1" });
  });

  it("reports bytes pipelined behind an SSLRequest (CVE-2021-23214 injection)", () => {
    const r = new FrameReader({ startup: true });
    r.push(Buffer.concat([build.sslRequest(), build.startupMessage({ user: "x" })]));
    r.next();
    // The session must refuse here instead of reading those unencrypted bytes after TLS.
    expect(r.buffered).toBeGreaterThan(0);
  });

  it("rejects an SSLRequest after startup at its first byte (tag 0x00 is no message)", () => {
    const r = new FrameReader({ startup: true, allowedTags: FRONTEND_TAGS });
    r.push(Buffer.concat([build.startupMessage({ user: "a" }), build.sslRequest()]));
    r.next();
    expect(() => r.next()).toThrow(/invalid message type 0/);
  });

  it("without a tag filter, an unknown tag fails in the parser instead", () => {
    const f = { tag: "\0", body: Buffer.alloc(3), raw: Buffer.alloc(8) };
    expect(() => parseFrontendMessage(f)).toThrow(/invalid frontend message type/);
  });

  it("refuses a backend-only tag from a client, and vice versa", () => {
    const fromClient = new FrameReader({ allowedTags: FRONTEND_TAGS });
    fromClient.push(build.rowDescription([])); // 'T' exists only server → client
    expect(() => fromClient.next()).toThrow(ProtocolError);
    const fromServer = new FrameReader({ allowedTags: BACKEND_TAGS });
    fromServer.push(build.query("x"));
    expect(() => fromServer.next()).toThrow(ProtocolError);
  });

  it.each([
    ["negative", -1],
    ["zero", 0],
    ["too small", 3],
    ["wrapped (0xFFFFFFF0)", 0xfffffff0],
    ["INT32_MIN", -0x80000000],
  ])("rejects a %s typed length before waiting for a body", (_, len) => {
    const r = new FrameReader();
    r.push(typedHeader("Q", len));
    expect(() => r.next()).toThrow(ProtocolError);
  });

  it("rejects lengths above the configured maximum from the header alone", () => {
    const r = new FrameReader({ maxMessageSize: 1024 });
    r.push(typedHeader("D", 2000));
    // Without the size: for an upstream DataRow it is the length of a value masking withholds.
    expect(() => r.next()).toThrow(/^a message exceeds the limit of 1024 bytes$/);
    // 64 MiB default; PostgreSQL's own 1 GiB would let one client pin a gigabyte.
    const d = new FrameReader();
    d.push(typedHeader("D", 0x3fffffff));
    expect(() => d.next()).toThrow(ProtocolError);
  });

  it("accepts a message of exactly the maximum size", () => {
    const msg = build.copyData(Buffer.alloc(1019));
    expect(msg.length).toBe(1024);
    const r = new FrameReader({ maxMessageSize: 1024 });
    r.push(msg);
    expect(r.next()!.body.length).toBe(1019);
  });

  it.each([
    ["shorter than 8", 7],
    ["negative", -8],
    ["over 10000 bytes", 10001],
  ])("rejects a startup packet length %s", (_, len) => {
    const b = Buffer.alloc(8);
    b.writeInt32BE(len, 0);
    const r = new FrameReader({ startup: true });
    r.push(b);
    expect(() => r.next()).toThrow(/invalid length of startup packet/);
  });

  it("stays failed after a protocol error (framing is lost)", () => {
    const r = new FrameReader();
    r.push(typedHeader("Q", -5));
    expect(() => r.next()).toThrow(ProtocolError);
    expect(() => r.push(build.sync())).toThrow(ProtocolError);
    expect(() => r.next()).toThrow(ProtocolError);
  });

  it("reads the single-byte SSL answer, then frames what follows", () => {
    const r = new FrameReader();
    r.push(Buffer.concat([Buffer.from("N"), build.readyForQuery("I")]));
    expect(String.fromCharCode(r.readByte()!)).toBe("N");
    expect(r.next()!.tag).toBe("Z");
    expect(r.readByte()).toBeNull();
  });

  it("copies only when a frame spans chunks, and ignores empty chunks", () => {
    const a = build.query("x".repeat(100));
    const r = new FrameReader();
    r.push(a.subarray(0, 3));
    r.push(Buffer.alloc(0));
    r.push(a.subarray(3, 50));
    expect(r.next()).toBeNull();
    r.push(Buffer.concat([a.subarray(50), build.sync()]));
    const f = r.next()!;
    expect(f.raw).toEqual(a);
    expect(r.next()!.tag).toBe("S");
  });
});
