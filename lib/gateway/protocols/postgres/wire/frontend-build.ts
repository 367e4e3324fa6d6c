import { checkCount, MessageWriter } from "./codec";
import { ProtocolError } from "./errors";
import { STARTUP_CODES } from "./frame-reader";
import type { FormatCode, FrontendMessage, StartupPacket } from "./messages";

/**
 * Serializers for client → server messages: what the gateway sends upstream (it is the
 * client there) and what tests and the console's fake clients send to the gateway.
 */

// Fixed packets are built once; Buffers are mutable, so hand out copies.
const SYNC = new MessageWriter("S", 0).finish();
const FLUSH = new MessageWriter("H", 0).finish();
const TERMINATE = new MessageWriter("X", 0).finish();
const COPY_DONE = new MessageWriter("c", 0).finish();

function untyped(code: number): MessageWriter {
  return new MessageWriter(null, 16).int32(code);
}

export interface ParseArgs {
  name?: string;
  text: string;
  paramTypes?: number[];
}

export interface BindArgs {
  portal?: string;
  statement?: string;
  paramFormats?: FormatCode[];
  params?: (Uint8Array | null)[];
  resultFormats?: FormatCode[];
}

export interface FunctionCallArgs {
  functionOid: number;
  argFormats?: FormatCode[];
  args?: (Uint8Array | null)[];
  resultFormat?: FormatCode;
}

export const frontendBuilders = {
  /** version defaults to 3.0: the only version the gateway speaks (see README, "Protocol version"). */
  startupMessage(params: Record<string, string>, version: { major: number; minor: number } = { major: 3, minor: 0 }): Buffer {
    const w = untyped((version.major << 16) | version.minor);
    for (const [k, v] of Object.entries(params)) {
      if (k === "") throw new ProtocolError("startup parameter name is empty");
      w.cstring(k).cstring(v);
    }
    return w.byte(0).finish();
  },
  sslRequest: (): Buffer => untyped(STARTUP_CODES.sslRequest).finish(),
  gssEncRequest: (): Buffer => untyped(STARTUP_CODES.gssEncRequest).finish(),
  cancelRequest: (pid: number, secretKey: Uint8Array): Buffer => untyped(STARTUP_CODES.cancelRequest).int32(pid).bytes(secretKey).finish(),

  password: (text: string): Buffer => new MessageWriter("p", text.length + 1).cstring(text).finish(),
  saslInitialResponse: (mechanism: string, data: Uint8Array | null): Buffer =>
    new MessageWriter("p", 32 + (data?.length ?? 0)).cstring(mechanism).nullableBytes(data).finish(),
  saslResponse: (data: Uint8Array): Buffer => new MessageWriter("p", data.length).bytes(data).finish(),

  query: (text: string): Buffer => new MessageWriter("Q", text.length + 1).cstring(text).finish(),
  parse({ name = "", text, paramTypes = [] }: ParseArgs): Buffer {
    const w = new MessageWriter("P", text.length + name.length + 8 + paramTypes.length * 4).cstring(name).cstring(text);
    w.uint16(checkCount(paramTypes.length));
    for (const oid of paramTypes) w.uint32(oid);
    return w.finish();
  },
  bind({ portal = "", statement = "", paramFormats = [], params = [], resultFormats = [] }: BindArgs): Buffer {
    const size = params.reduce((n, p) => n + 4 + (p?.length ?? 0), 16 + portal.length + statement.length);
    const w = new MessageWriter("B", size).cstring(portal).cstring(statement).int16List(paramFormats);
    w.uint16(checkCount(params.length));
    for (const p of params) w.nullableBytes(p);
    return w.int16List(resultFormats).finish();
  },
  describe: (target: "S" | "P", name = ""): Buffer => new MessageWriter("D").byte(target.charCodeAt(0)).cstring(name).finish(),
  execute: (portal = "", maxRows = 0): Buffer => new MessageWriter("E").cstring(portal).int32(maxRows).finish(),
  close: (target: "S" | "P", name = ""): Buffer => new MessageWriter("C").byte(target.charCodeAt(0)).cstring(name).finish(),
  sync: (): Buffer => Buffer.from(SYNC),
  flush: (): Buffer => Buffer.from(FLUSH),
  terminate: (): Buffer => Buffer.from(TERMINATE),
  copyData: (data: Uint8Array): Buffer => new MessageWriter("d", data.length).bytes(data).finish(),
  copyDone: (): Buffer => Buffer.from(COPY_DONE),
  copyFail: (message: string): Buffer => new MessageWriter("f").cstring(message).finish(),
  functionCall({ functionOid, argFormats = [], args = [], resultFormat = 0 }: FunctionCallArgs): Buffer {
    const w = new MessageWriter("F").uint32(functionOid).int16List(argFormats);
    w.uint16(checkCount(args.length));
    for (const a of args) w.nullableBytes(a);
    return w.int16(resultFormat).finish();
  },
};

/** Encode any parsed startup packet (inverse of parseStartupPacket). */
export function encodeStartupPacket(p: StartupPacket): Buffer {
  switch (p.type) {
    case "StartupMessage":
      return frontendBuilders.startupMessage(p.params, { major: p.majorVersion, minor: p.minorVersion });
    case "SSLRequest":
      return frontendBuilders.sslRequest();
    case "GSSENCRequest":
      return frontendBuilders.gssEncRequest();
    case "CancelRequest":
      return frontendBuilders.cancelRequest(p.pid, p.secretKey);
  }
}

/** Encode any parsed frontend message (inverse of parseFrontendMessage). */
export function encodeFrontend(m: FrontendMessage): Buffer {
  const b = frontendBuilders;
  switch (m.type) {
    case "Query":
      return b.query(m.text);
    case "Parse":
      return b.parse(m);
    case "Bind":
      return b.bind(m);
    case "Describe":
      return b.describe(m.target, m.name);
    case "Execute":
      return b.execute(m.portal, m.maxRows);
    case "Close":
      return b.close(m.target, m.name);
    case "Sync":
      return b.sync();
    case "Flush":
      return b.flush();
    case "Terminate":
      return b.terminate();
    case "CopyData":
      return b.copyData(m.data);
    case "CopyDone":
      return b.copyDone();
    case "CopyFail":
      return b.copyFail(m.message);
    case "FunctionCall":
      return b.functionCall(m);
    case "PasswordMessage":
      return b.password(m.password);
    case "SASLInitialResponse":
      return b.saslInitialResponse(m.mechanism, m.data);
    case "SASLResponse":
    case "AuthenticationResponse":
      return b.saslResponse(m.data);
  }
}
