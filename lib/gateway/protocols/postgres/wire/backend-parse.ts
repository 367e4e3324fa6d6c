import { BodyReader } from "./codec";
import { readErrorFields } from "./error-fields";
import { ProtocolError } from "./errors";
import type { Frame } from "./frame-reader";
import { printable } from "./frontend-parse";
import { AuthCode, type BackendMessage, type CopyResponseType, type FieldDescription, type FormatCode } from "./messages";

/**
 * Parsers for what a server sends. The upstream is more trusted than a client, but a
 * compromised or impersonated server must still not crash the gateway, so the same bounds
 * checks apply. DataRow values are zero-copy views: masking reads them, the relay forwards them.
 */

const COPY_TYPES: Record<string, CopyResponseType> = { G: "CopyInResponse", H: "CopyOutResponse", W: "CopyBothResponse" };

const EMPTY: Record<string, BackendMessage> = {
  "1": { type: "ParseComplete" },
  "2": { type: "BindComplete" },
  "3": { type: "CloseComplete" },
  n: { type: "NoData" },
  s: { type: "PortalSuspended" },
  I: { type: "EmptyQueryResponse" },
  c: { type: "CopyDone" },
};

export function parseBackendMessage(frame: Frame): BackendMessage {
  const r = new BodyReader(frame.body, `backend '${printable(frame.tag)}'`);
  let msg: BackendMessage;
  switch (frame.tag) {
    case "R":
      msg = parseAuthentication(r);
      break;
    case "S":
      msg = { type: "ParameterStatus", name: r.cstring(), value: r.cstring() };
      break;
    case "K": {
      const pid = r.int32();
      if (r.remaining < 4 || r.remaining > 256) throw r.malformed("bad cancel key length");
      msg = { type: "BackendKeyData", pid, secretKey: r.rest() };
      break;
    }
    case "Z": {
      const s = String.fromCharCode(r.byte());
      if (s !== "I" && s !== "T" && s !== "E") throw r.malformed("bad transaction status");
      msg = { type: "ReadyForQuery", status: s };
      break;
    }
    case "T":
      msg = { type: "RowDescription", fields: parseFields(r) };
      break;
    case "D": {
      const n = r.count(r.uint16(), 4);
      const values: (Buffer | null)[] = new Array(n);
      for (let i = 0; i < n; i++) values[i] = r.nullableBytes();
      msg = { type: "DataRow", values };
      break;
    }
    case "C":
      msg = { type: "CommandComplete", tag: r.cstring() };
      break;
    case "E":
      msg = { type: "ErrorResponse", fields: readErrorFields(r) };
      break;
    case "N":
      msg = { type: "NoticeResponse", fields: readErrorFields(r) };
      break;
    case "A":
      msg = { type: "NotificationResponse", pid: r.int32(), channel: r.cstring(), payload: r.cstring() };
      break;
    case "t": {
      const n = r.count(r.uint16(), 4);
      const typeOids: number[] = new Array(n);
      for (let i = 0; i < n; i++) typeOids[i] = r.uint32();
      msg = { type: "ParameterDescription", typeOids };
      break;
    }
    case "G":
    case "H":
    case "W": {
      const format = r.byte();
      const n = r.count(r.uint16(), 2);
      const columnFormats: FormatCode[] = new Array(n);
      for (let i = 0; i < n; i++) columnFormats[i] = r.int16();
      msg = { type: COPY_TYPES[frame.tag], format, columnFormats };
      break;
    }
    case "d":
      msg = { type: "CopyData", data: r.rest() };
      break;
    case "v": {
      const newestVersion = r.int32();
      const n = r.count(r.int32(), 1);
      const unrecognized: string[] = new Array(n);
      for (let i = 0; i < n; i++) unrecognized[i] = r.cstring();
      msg = { type: "NegotiateProtocolVersion", newestVersion, unrecognized };
      break;
    }
    case "V":
      msg = { type: "FunctionCallResponse", value: r.nullableBytes() };
      break;
    default: {
      const empty = EMPTY[frame.tag];
      if (!empty) throw new ProtocolError(`invalid backend message type ${printable(frame.tag)}`);
      msg = { ...empty };
    }
  }
  r.end();
  return msg;
}

function parseAuthentication(r: BodyReader): BackendMessage {
  const code = r.int32();
  switch (code) {
    case AuthCode.ok:
      return { type: "AuthenticationOk" };
    case AuthCode.cleartextPassword:
      return { type: "AuthenticationCleartextPassword" };
    case AuthCode.md5Password:
      return { type: "AuthenticationMD5Password", salt: r.bytes(4) };
    case AuthCode.sasl: {
      const mechanisms: string[] = [];
      for (;;) {
        const m = r.cstring();
        if (m === "") break;
        mechanisms.push(m);
      }
      return { type: "AuthenticationSASL", mechanisms };
    }
    case AuthCode.saslContinue:
      return { type: "AuthenticationSASLContinue", data: r.rest() };
    case AuthCode.saslFinal:
      return { type: "AuthenticationSASLFinal", data: r.rest() };
    default:
      return { type: "AuthenticationOther", code, data: r.rest() };
  }
}

function parseFields(r: BodyReader): FieldDescription[] {
  // name (>= 1 byte NUL) + 18 bytes of fixed attributes
  const n = r.count(r.uint16(), 19);
  const fields: FieldDescription[] = new Array(n);
  for (let i = 0; i < n; i++) {
    fields[i] = {
      name: r.cstring(),
      tableOid: r.uint32(),
      columnAttr: r.int16(),
      typeOid: r.uint32(),
      typeSize: r.int16(),
      typeMod: r.int32(),
      format: r.int16(),
    };
  }
  return fields;
}
