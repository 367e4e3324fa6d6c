import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  build,
  encodeBackend,
  encodeFrontend,
  encodeStartupPacket,
  FrameReader,
  parseBackendMessage,
  parseFrontendMessage,
  parseStartupPacket,
  type Frame,
} from "../wire";
import { backendMessage, frontendMessage, startupPacket } from "./arbitraries";

/** Every message: build → frame → parse gives the same value, and re-encoding gives the same bytes. */

function oneFrame(bytes: Buffer, startup = false): Frame {
  const r = new FrameReader({ startup });
  r.push(bytes);
  const f = r.next();
  expect(f).not.toBeNull();
  expect(r.next()).toBeNull();
  expect(r.buffered).toBe(0);
  return f!;
}

const RUNS = { numRuns: 400 };

describe("round trips", () => {
  it("frontend messages", () => {
    fc.assert(
      fc.property(frontendMessage, ({ msg, auth }) => {
        const bytes = encodeFrontend(msg);
        const parsed = parseFrontendMessage(oneFrame(bytes), { auth });
        expect(parsed).toEqual(msg);
        expect(encodeFrontend(parsed)).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it("startup-phase packets", () => {
    fc.assert(
      fc.property(startupPacket, (p) => {
        const bytes = encodeStartupPacket(p);
        const parsed = parseStartupPacket(oneFrame(bytes, true));
        expect(parsed).toEqual(p);
        expect(encodeStartupPacket(parsed)).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it("backend messages", () => {
    fc.assert(
      fc.property(backendMessage, (msg) => {
        const bytes = encodeBackend(msg);
        const parsed = parseBackendMessage(oneFrame(bytes));
        expect(parsed).toEqual(msg);
        expect(encodeBackend(parsed)).toEqual(bytes);
      }),
      RUNS,
    );
  });

  it("the named builders produce what the parsers read back", () => {
    const be = (b: Buffer) => parseBackendMessage(oneFrame(b));
    const fe = (b: Buffer, auth?: "password" | "sasl-initial" | "sasl") => parseFrontendMessage(oneFrame(b), { auth });
    expect(be(build.authenticationOk())).toEqual({ type: "AuthenticationOk" });
    expect(be(build.authenticationCleartextPassword())).toEqual({ type: "AuthenticationCleartextPassword" });
    expect(be(build.authenticationSASL(["SCRAM-SHA-256"]))).toEqual({ type: "AuthenticationSASL", mechanisms: ["SCRAM-SHA-256"] });
    expect(be(build.backendKeyData(42, Buffer.from([1, 2, 3, 4])))).toEqual({ type: "BackendKeyData", pid: 42, secretKey: Buffer.from([1, 2, 3, 4]) });
    expect(be(build.readyForQuery("T"))).toEqual({ type: "ReadyForQuery", status: "T" });
    expect(be(build.dataRow([Buffer.from([0, 255]), null]))).toEqual({ type: "DataRow", values: [Buffer.from([0, 255]), null] });
    expect(be(build.commandComplete("SELECT 1"))).toEqual({ type: "CommandComplete", tag: "SELECT 1" });
    expect(be(build.copyOutResponse(0, [0, 0]))).toEqual({ type: "CopyOutResponse", format: 0, columnFormats: [0, 0] });
    expect(be(build.notificationResponse(7, "ch", "payload"))).toEqual({ type: "NotificationResponse", pid: 7, channel: "ch", payload: "payload" });
    // The gateway's own errors carry V (non-localized severity) like PostgreSQL >= 9.6.
    expect(be(build.errorResponse({ severity: "ERROR", code: "42501", message: "denied", hint: "ask" }))).toEqual({
      type: "ErrorResponse",
      fields: { severity: "ERROR", severityNonLocalized: "ERROR", code: "42501", message: "denied", hint: "ask" },
    });
    expect(fe(build.password("tok"), "password")).toEqual({ type: "PasswordMessage", password: "tok" });
    expect(fe(build.saslInitialResponse("SCRAM-SHA-256", null), "sasl-initial")).toEqual({ type: "SASLInitialResponse", mechanism: "SCRAM-SHA-256", data: null });
    expect(fe(build.parse({ name: "s1", text: "select $1", paramTypes: [23] }))).toEqual({ type: "Parse", name: "s1", text: "select $1", paramTypes: [23] });
    expect(fe(build.bind({ statement: "s1", params: [Buffer.from("1")] }))).toEqual({
      type: "Bind",
      portal: "",
      statement: "s1",
      paramFormats: [],
      params: [Buffer.from("1")],
      resultFormats: [],
    });
    expect(fe(build.describe("P"))).toEqual({ type: "Describe", target: "P", name: "" });
    expect(fe(build.execute("", 10))).toEqual({ type: "Execute", portal: "", maxRows: 10 });
    expect(parseStartupPacket(oneFrame(build.cancelRequest(5, Buffer.alloc(32, 7)), true))).toEqual({ type: "CancelRequest", pid: 5, secretKey: Buffer.alloc(32, 7) });
  });

  it("fixed messages are fresh buffers (mutating one does not corrupt the next)", () => {
    const a = build.sync();
    a[0] = 0;
    expect(build.sync()[0]).toBe("S".charCodeAt(0));
    const b = build.parseComplete();
    b[0] = 0;
    expect(build.parseComplete()[0]).toBe("1".charCodeAt(0));
  });
});
