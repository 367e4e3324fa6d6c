import { BodyReader } from "./codec";
import { ProtocolError, SqlState } from "./errors";
import { STARTUP_CODES, type Frame } from "./frame-reader";
import type { AuthResponseKind, FormatCode, FrontendMessage, StartupPacket } from "./messages";

/**
 * Parsers for what a client sends. Each checks that the body is consumed exactly, as the
 * server's pq_getmsgend does: if we accepted trailing bytes the server rejects, or stopped at a
 * NUL the server reads past, the gateway would classify a different statement from the one
 * that runs.
 */

/** Protocol 3.2 (PostgreSQL 18) allows cancel keys up to 256 bytes; 3.0 uses 4. */
const MAX_CANCEL_KEY = 256;

export function parseStartupPacket(frame: Frame): StartupPacket {
  if (frame.tag !== "") throw new ProtocolError("expected a startup packet");
  const r = new BodyReader(frame.body, "startup packet");
  const code = r.int32();
  switch (code) {
    case STARTUP_CODES.sslRequest:
      r.end();
      return { type: "SSLRequest" };
    case STARTUP_CODES.gssEncRequest:
      r.end();
      return { type: "GSSENCRequest" };
    case STARTUP_CODES.cancelRequest: {
      const pid = r.int32();
      if (r.remaining < 4 || r.remaining > MAX_CANCEL_KEY) throw r.malformed("bad cancel key length");
      return { type: "CancelRequest", pid, secretKey: r.rest() };
    }
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  // Same wording and SQLSTATE as the server's ProcessStartupPacket.
  if (major !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`, SqlState.featureNotSupported);
  }
  const params: Record<string, string> = Object.create(null);
  for (;;) {
    const name = r.cstring();
    if (name === "") break;
    // PostgreSQL lets the last duplicate win; we refuse, so no two readers can disagree.
    if (name in params) throw r.malformed(`duplicate parameter "${name}"`);
    params[name] = r.cstring();
  }
  r.end();
  return { type: "StartupMessage", majorVersion: major, minorVersion: minor, params };
}

export interface FrontendParseOptions {
  /**
   * What a 'p' message answers. Without it 'p' parses as AuthenticationResponse (raw bytes):
   * the same tag carries PasswordMessage, SASLInitialResponse and SASLResponse.
   */
  auth?: AuthResponseKind;
}

export function parseFrontendMessage(frame: Frame, opts: FrontendParseOptions = {}): FrontendMessage {
  const r = new BodyReader(frame.body, `frontend '${printable(frame.tag)}'`);
  let msg: FrontendMessage;
  switch (frame.tag) {
    case "Q":
      msg = { type: "Query", text: r.cstring() };
      break;
    case "P": {
      const name = r.cstring();
      const text = r.cstring();
      const n = r.count(r.uint16(), 4);
      const paramTypes: number[] = new Array(n);
      for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
      msg = { type: "Parse", name, text, paramTypes };
      break;
    }
    case "B": {
      const portal = r.cstring();
      const statement = r.cstring();
      const paramFormats = formatList(r);
      const n = r.count(r.uint16(), 4);
      const params: (Buffer | null)[] = new Array(n);
      for (let i = 0; i < n; i++) params[i] = r.nullableBytes();
      checkFormatCount(r, paramFormats, n);
      msg = { type: "Bind", portal, statement, paramFormats, params, resultFormats: formatList(r) };
      break;
    }
    case "D":
    case "C": {
      const target = r.byte();
      if (target !== 0x53 && target !== 0x50) throw r.malformed("target must be 'S' or 'P'");
      const name = r.cstring();
      msg = { type: frame.tag === "D" ? "Describe" : "Close", target: target === 0x53 ? "S" : "P", name };
      break;
    }
    case "E":
      msg = { type: "Execute", portal: r.cstring(), maxRows: r.int32() };
      break;
    case "S":
      msg = { type: "Sync" };
      break;
    case "H":
      msg = { type: "Flush" };
      break;
    case "X":
      msg = { type: "Terminate" };
      break;
    case "d":
      msg = { type: "CopyData", data: r.rest() };
      break;
    case "c":
      msg = { type: "CopyDone" };
      break;
    case "f":
      msg = { type: "CopyFail", message: r.cstring() };
      break;
    case "F": {
      const functionOid = r.uint32();
      const argFormats = formatList(r);
      const n = r.count(r.uint16(), 4);
      const args: (Buffer | null)[] = new Array(n);
      for (let i = 0; i < n; i++) args[i] = r.nullableBytes();
      checkFormatCount(r, argFormats, n);
      msg = { type: "FunctionCall", functionOid, argFormats, args, resultFormat: r.int16() };
      break;
    }
    case "p":
      msg = parseAuthResponse(r, opts.auth);
      break;
    default:
      throw new ProtocolError(`invalid frontend message type ${printable(frame.tag)}`);
  }
  r.end();
  return msg;
}

function parseAuthResponse(r: BodyReader, kind: AuthResponseKind | undefined): FrontendMessage {
  switch (kind) {
    case "password":
      return { type: "PasswordMessage", password: r.cstring() };
    case "sasl-initial":
      return { type: "SASLInitialResponse", mechanism: r.cstring(), data: r.nullableBytes() };
    case "sasl":
      return { type: "SASLResponse", data: r.rest() };
    default:
      return { type: "AuthenticationResponse", data: r.rest() };
  }
}

function formatList(r: BodyReader): FormatCode[] {
  const n = r.count(r.uint16(), 2);
  const out: FormatCode[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = r.int16();
  return out;
}

/** Format codes: none (all text), one (applies to all) or exactly one per value. */
function checkFormatCount(r: BodyReader, formats: FormatCode[], n: number): void {
  if (formats.length > 1 && formats.length !== n) throw r.malformed(`${formats.length} format codes for ${n} values`);
}

export function printable(tag: string): string {
  if (tag === "") return "(untyped)";
  return /^[\x21-\x7e]$/.test(tag) ? tag : `\\x${tag.charCodeAt(0).toString(16).padStart(2, "0")}`;
}
