import { describe, expect, it } from "vitest";
import {
  build,
  FrameReader,
  negotiateStartup,
  parseBackendMessage,
  parseFrontendMessage,
  parseStartupPacket,
  ProtocolError,
  screenStartupParams,
  type Frame,
  type StartupMessage,
} from "../wire";

/** Hand-made frames for the cases a round trip cannot produce. */
function frame(tag: string, body: number[] | Buffer): Frame {
  const b = Buffer.from(body);
  const raw = Buffer.concat([Buffer.from(tag, "latin1"), Buffer.alloc(4), b]);
  raw.writeInt32BE(4 + b.length, 1);
  return { tag, body: b, raw };
}
const cstr = (s: string) => [...Buffer.from(s), 0];
const i16 = (n: number) => [(n >> 8) & 0xff, n & 0xff];
const i32 = (n: number) => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
function startupFrame(bytes: Buffer): Frame {
  const r = new FrameReader({ startup: true });
  r.push(bytes);
  return r.next()!;
}

describe("frontend parsing", () => {
  it("reads what psql 15 sends first: SSLRequest, then StartupMessage (captured bytes)", () => {
    const r = new FrameReader({ startup: true });
    r.push(Buffer.from("0000000804d2162f", "hex"));
    expect(parseStartupPacket(r.next()!)).toEqual({ type: "SSLRequest" });
    r.push(Buffer.from("00000038000300007573657200616c6963650064617461626173650070726f64006170706c69636174696f6e5f6e616d65007073716c0000", "hex"));
    expect(parseStartupPacket(r.next()!)).toEqual({
      type: "StartupMessage",
      majorVersion: 3,
      minorVersion: 0,
      params: { user: "alice", database: "prod", application_name: "psql" },
    });
  });

  it("keeps a parameter named __proto__ as data", () => {
    const p = parseStartupPacket(startupFrame(build.startupMessage({ ["__proto__"]: "x", user: "u" }))) as StartupMessage;
    expect(Object.getPrototypeOf(p.params)).toBeNull();
    expect(Object.keys(p.params)).toEqual(["__proto__", "user"]);
  });

  it("refuses duplicate startup parameters and protocol 2.0 / 4.0", () => {
    const dup = Buffer.from([0, 0, 0, 0, ...i32(196608), ...cstr("user"), ...cstr("a"), ...cstr("user"), ...cstr("b"), 0]);
    dup.writeInt32BE(dup.length, 0);
    expect(() => parseStartupPacket(startupFrame(dup))).toThrow(/duplicate parameter/);
    expect(() => parseStartupPacket(startupFrame(build.startupMessage({ user: "u" }, { major: 2, minor: 0 })))).toThrow(
      expect.objectContaining({ sqlState: "0A000" }),
    );
    expect(() => parseStartupPacket(startupFrame(build.startupMessage({ user: "u" }, { major: 4, minor: 0 })))).toThrow(/unsupported frontend protocol 4.0/);
  });

  it("accepts 4-byte (3.0) and long (3.2) cancel keys, refuses empty and oversized ones", () => {
    expect(parseStartupPacket(startupFrame(build.cancelRequest(9, Buffer.alloc(4, 1))))).toMatchObject({ pid: 9, secretKey: Buffer.alloc(4, 1) });
    expect(parseStartupPacket(startupFrame(build.cancelRequest(9, Buffer.alloc(256, 2))))).toMatchObject({ secretKey: Buffer.alloc(256, 2) });
    expect(() => parseStartupPacket(startupFrame(build.cancelRequest(9, Buffer.alloc(0))))).toThrow(ProtocolError);
    expect(() => parseStartupPacket(startupFrame(build.cancelRequest(9, Buffer.alloc(257))))).toThrow(ProtocolError);
  });

  it("refuses trailing bytes after a Query string (the server would, and must see the same text)", () => {
    expect(() => parseFrontendMessage(frame("Q", [...cstr("select 1"), ...cstr("; drop table t")]))).toThrow(/trailing bytes/);
    expect(() => parseFrontendMessage(frame("Q", Buffer.from("select 1")))).toThrow(/unterminated/);
  });

  it("refuses invalid UTF-8 instead of replacing it (SQLSTATE 22021)", () => {
    expect(() => parseFrontendMessage(frame("Q", [0x73, 0xc0, 0xaf, 0]))).toThrow(expect.objectContaining({ sqlState: "22021" }));
  });

  it("reads Bind with NULL and binary parameters as Buffers, byte-exact", () => {
    const body = [...cstr("p1"), ...cstr("s1"), ...i16(2), ...i16(0), ...i16(1), ...i16(2), ...i32(-1), ...i32(3), 0xff, 0x00, 0x80, ...i16(1), ...i16(1)];
    expect(parseFrontendMessage(frame("B", body))).toEqual({
      type: "Bind",
      portal: "p1",
      statement: "s1",
      paramFormats: [0, 1],
      params: [null, Buffer.from([0xff, 0x00, 0x80])],
      resultFormats: [1],
    });
  });

  it("refuses Bind whose format-code count matches neither 0, 1 nor the parameter count", () => {
    const body = [...cstr(""), ...cstr(""), ...i16(2), ...i16(0), ...i16(0), ...i16(3), ...i32(-1), ...i32(-1), ...i32(-1), ...i16(0)];
    expect(() => parseFrontendMessage(frame("B", body))).toThrow(/2 format codes for 3 values/);
  });

  it("refuses counts the body cannot hold before allocating for them", () => {
    expect(() => parseFrontendMessage(frame("P", [...cstr(""), ...cstr("x"), ...i16(65535)]))).toThrow(/count exceeds message/);
    expect(() => parseBackendMessage(frame("D", [...i16(65535), ...i32(0)]))).toThrow(/count exceeds message/);
  });

  it("refuses a negative parameter length other than -1", () => {
    const body = [...cstr(""), ...cstr(""), ...i16(0), ...i16(1), ...i32(-2), ...i16(0)];
    expect(() => parseFrontendMessage(frame("B", body))).toThrow(ProtocolError);
  });

  it("parses 'p' by context: password, SASL initial, SASL continuation, or raw", () => {
    const pw = frame("p", cstr("gh_token"));
    expect(parseFrontendMessage(pw, { auth: "password" })).toEqual({ type: "PasswordMessage", password: "gh_token" });
    expect(parseFrontendMessage(pw)).toEqual({ type: "AuthenticationResponse", data: Buffer.from(cstr("gh_token")) });
    const init = frame("p", [...cstr("SCRAM-SHA-256"), ...i32(3), 0x6e, 0x2c, 0x2c]);
    expect(parseFrontendMessage(init, { auth: "sasl-initial" })).toEqual({ type: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: Buffer.from("n,,") });
    expect(parseFrontendMessage(frame("p", Buffer.from("c=biws")), { auth: "sasl" })).toEqual({ type: "SASLResponse", data: Buffer.from("c=biws") });
  });

  it("refuses a Describe target other than S or P", () => {
    expect(() => parseFrontendMessage(frame("D", [0x58, 0]))).toThrow(/'S' or 'P'/);
  });
});

describe("backend parsing", () => {
  it("keeps DataRow values as views into the frame (binary columns stay bytes)", () => {
    const f = frame("D", [...i16(2), ...i32(2), 0xde, 0xad, ...i32(-1)]);
    const m = parseBackendMessage(f);
    expect(m).toEqual({ type: "DataRow", values: [Buffer.from([0xde, 0xad]), null] });
    if (m.type === "DataRow") expect(m.values[0]!.buffer).toBe(f.body.buffer);
  });

  it("maps ErrorResponse letters to names and keeps unknown letters", () => {
    const body = [0x53, ...cstr("ERROR"), 0x43, ...cstr("42P01"), 0x4d, ...cstr('relation "x" does not exist'), 0x50, ...cstr("15"), 0x5a, ...cstr("future"), 0];
    expect(parseBackendMessage(frame("E", body))).toEqual({
      type: "ErrorResponse",
      fields: { severity: "ERROR", code: "42P01", message: 'relation "x" does not exist', position: "15", other: { Z: "future" } },
    });
  });

  it("recognizes authentication requests the gateway does not support, so it can refuse them", () => {
    expect(parseBackendMessage(frame("R", i32(7)))).toEqual({ type: "AuthenticationOther", code: 7, data: Buffer.alloc(0) });
    expect(parseBackendMessage(frame("R", [...i32(5), 1, 2, 3, 4]))).toEqual({ type: "AuthenticationMD5Password", salt: Buffer.from([1, 2, 3, 4]) });
    expect(() => parseBackendMessage(frame("R", [...i32(5), 1, 2]))).toThrow(ProtocolError);
  });

  it("refuses a bad ReadyForQuery status and unknown tags", () => {
    expect(() => parseBackendMessage(frame("Z", [0x58]))).toThrow(/transaction status/);
    expect(() => parseBackendMessage(frame("Q", []))).toThrow(/invalid backend message type Q/);
  });
});

describe("builders refuse what the wire cannot carry", () => {
  it("a NUL inside a C string (it would end the field early and shift the rest)", () => {
    expect(() => build.query("select 1\0; drop table t")).toThrow(ProtocolError);
    expect(() => build.errorResponse({ severity: "ERROR", code: "XX000", message: "a\0b" })).toThrow(ProtocolError);
  });

  it("more than 65535 values in a 16-bit count", () => {
    expect(() => build.dataRow(new Array(65536).fill(null))).toThrow(/too many items/);
  });
});

describe("startup negotiation and parameter screening", () => {
  const startup = (params: Record<string, string>, minor = 0): StartupMessage => ({ type: "StartupMessage", majorVersion: 3, minorVersion: minor, params });

  it("answers 3.2 and 3.9999 with NegotiateProtocolVersion(3.0 as 196608, _pq_ options) and strips them", () => {
    const n = negotiateStartup(startup({ user: "u", "_pq_.test": "x" }, 9999));
    expect(n.params).toEqual({ user: "u" });
    const r = new FrameReader();
    r.push(n.negotiate!);
    expect(parseBackendMessage(r.next()!)).toEqual({
      type: "NegotiateProtocolVersion",
      newestVersion: 196608,
      unrecognized: ["_pq_.test"],
    });
    expect(negotiateStartup(startup({ user: "u" })).negotiate).toBeNull();
  });

  it("forwards display settings, drops unknown GUCs, refuses options/replication/non-UTF8", () => {
    const s = screenStartupParams({ user: "a@x.io", database: "prod", application_name: "psql", DateStyle: "ISO", geqo: "off", client_encoding: "utf8" });
    expect(s).toEqual({ user: "a@x.io", database: "prod", forward: { application_name: "psql", DateStyle: "ISO", client_encoding: "utf8" }, dropped: ["geqo"], refused: [] });
    expect(screenStartupParams({ user: "a", options: "-c role=postgres" }).refused).toHaveLength(1);
    expect(screenStartupParams({ user: "a", replication: "database" }).refused).toHaveLength(1);
    expect(screenStartupParams({ user: "a", client_encoding: "SJIS" }).refused[0]).toMatch(/UTF8/);
    expect(screenStartupParams({ database: "x" }).refused[0]).toMatch(/no PostgreSQL user name/);
    expect(screenStartupParams({ user: "a" }).database).toBe("a");
  });
});
