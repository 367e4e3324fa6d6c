import { checkCount, MessageWriter } from "./codec";
import { writeErrorFields } from "./error-fields";
import { AuthCode, type BackendMessage, type CopyResponse, type ErrorFields, type FieldDescription, type TransactionStatus } from "./messages";

/**
 * Serializers for server → client messages: everything the gateway says to its clients
 * itself (authentication, its own errors, masked rows) rather than relaying upstream bytes.
 */

const fixed = (tag: string) => {
  const bytes = new MessageWriter(tag, 0).finish();
  return (): Buffer => Buffer.from(bytes); // copies: a caller may mutate what it was given
};

const auth = (code: number, size = 0) => new MessageWriter("R", 4 + size).int32(code);

/** What the gateway passes for its own errors; `severityNonLocalized` defaults to `severity`. */
export type ErrorInput = Omit<ErrorFields, "severityNonLocalized"> & { severityNonLocalized?: string };

const withV = (f: ErrorInput): ErrorFields => ({ ...f, severityNonLocalized: f.severityNonLocalized ?? f.severity });

export const backendBuilders = {
  authenticationOk: (): Buffer => auth(AuthCode.ok).finish(),
  authenticationCleartextPassword: (): Buffer => auth(AuthCode.cleartextPassword).finish(),
  authenticationMD5Password: (salt: Uint8Array): Buffer => auth(AuthCode.md5Password, 4).bytes(salt).finish(),
  authenticationSASL(mechanisms: readonly string[]): Buffer {
    const w = auth(AuthCode.sasl, 32);
    for (const m of mechanisms) w.cstring(m);
    return w.byte(0).finish();
  },
  authenticationSASLContinue: (data: Uint8Array): Buffer => auth(AuthCode.saslContinue, data.length).bytes(data).finish(),
  authenticationSASLFinal: (data: Uint8Array): Buffer => auth(AuthCode.saslFinal, data.length).bytes(data).finish(),
  authenticationOther: (code: number, data: Uint8Array = Buffer.alloc(0)): Buffer => auth(code, data.length).bytes(data).finish(),

  parameterStatus: (name: string, value: string): Buffer => new MessageWriter("S").cstring(name).cstring(value).finish(),
  backendKeyData: (pid: number, secretKey: Uint8Array): Buffer => new MessageWriter("K").int32(pid).bytes(secretKey).finish(),
  readyForQuery: (status: TransactionStatus): Buffer => new MessageWriter("Z", 1).byte(status.charCodeAt(0)).finish(),

  rowDescription(fields: readonly FieldDescription[]): Buffer {
    const w = new MessageWriter("T", 2 + fields.length * 32).uint16(checkCount(fields.length));
    for (const f of fields) {
      w.cstring(f.name).uint32(f.tableOid).int16(f.columnAttr).uint32(f.typeOid).int16(f.typeSize).int32(f.typeMod).int16(f.format);
    }
    return w.finish();
  },
  /** Hot path (every masked row): sized exactly, one allocation. */
  dataRow(values: readonly (Uint8Array | null)[]): Buffer {
    let size = 2;
    for (const v of values) size += 4 + (v?.length ?? 0);
    const w = new MessageWriter("D", size).uint16(checkCount(values.length));
    for (const v of values) w.nullableBytes(v);
    return w.finish();
  },
  commandComplete: (tag: string): Buffer => new MessageWriter("C").cstring(tag).finish(),
  errorResponse: (f: ErrorInput): Buffer => writeErrorFields(new MessageWriter("E", 128), withV(f)).finish(),
  noticeResponse: (f: ErrorInput): Buffer => writeErrorFields(new MessageWriter("N", 128), withV(f)).finish(),
  notificationResponse: (pid: number, channel: string, payload: string): Buffer =>
    new MessageWriter("A").int32(pid).cstring(channel).cstring(payload).finish(),
  parameterDescription(typeOids: readonly number[]): Buffer {
    const w = new MessageWriter("t", 2 + typeOids.length * 4).uint16(checkCount(typeOids.length));
    for (const oid of typeOids) w.uint32(oid);
    return w.finish();
  },
  parseComplete: fixed("1"),
  bindComplete: fixed("2"),
  closeComplete: fixed("3"),
  noData: fixed("n"),
  portalSuspended: fixed("s"),
  emptyQueryResponse: fixed("I"),
  copyInResponse: (format: number, columnFormats: readonly number[]): Buffer => copyResponse("G", format, columnFormats),
  copyOutResponse: (format: number, columnFormats: readonly number[]): Buffer => copyResponse("H", format, columnFormats),
  copyBothResponse: (format: number, columnFormats: readonly number[]): Buffer => copyResponse("W", format, columnFormats),
  negotiateProtocolVersion(newestVersion: number, unrecognized: readonly string[]): Buffer {
    const w = new MessageWriter("v").int32(newestVersion).int32(unrecognized.length);
    for (const u of unrecognized) w.cstring(u);
    return w.finish();
  },
  functionCallResponse: (value: Uint8Array | null): Buffer => new MessageWriter("V").nullableBytes(value).finish(),
};

function copyResponse(tag: string, format: number, columnFormats: readonly number[]): Buffer {
  return new MessageWriter(tag, 3 + columnFormats.length * 2).byte(format).int16List([...columnFormats]).finish();
}

const COPY_TAG: Record<CopyResponse["type"], "copyInResponse" | "copyOutResponse" | "copyBothResponse"> = {
  CopyInResponse: "copyInResponse",
  CopyOutResponse: "copyOutResponse",
  CopyBothResponse: "copyBothResponse",
};

/** Encode any parsed backend message (inverse of parseBackendMessage). */
export function encodeBackend(m: BackendMessage): Buffer {
  const b = backendBuilders;
  switch (m.type) {
    case "AuthenticationOk":
      return b.authenticationOk();
    case "AuthenticationCleartextPassword":
      return b.authenticationCleartextPassword();
    case "AuthenticationMD5Password":
      return b.authenticationMD5Password(m.salt);
    case "AuthenticationSASL":
      return b.authenticationSASL(m.mechanisms);
    case "AuthenticationSASLContinue":
      return b.authenticationSASLContinue(m.data);
    case "AuthenticationSASLFinal":
      return b.authenticationSASLFinal(m.data);
    case "AuthenticationOther":
      return b.authenticationOther(m.code, m.data);
    case "ParameterStatus":
      return b.parameterStatus(m.name, m.value);
    case "BackendKeyData":
      return b.backendKeyData(m.pid, m.secretKey);
    case "ReadyForQuery":
      return b.readyForQuery(m.status);
    case "RowDescription":
      return b.rowDescription(m.fields);
    case "DataRow":
      return b.dataRow(m.values);
    case "CommandComplete":
      return b.commandComplete(m.tag);
    // Relayed fields are encoded exactly as received: no V is invented for a peer that sent none.
    case "ErrorResponse":
      return writeErrorFields(new MessageWriter("E", 128), m.fields).finish();
    case "NoticeResponse":
      return writeErrorFields(new MessageWriter("N", 128), m.fields).finish();
    case "NotificationResponse":
      return b.notificationResponse(m.pid, m.channel, m.payload);
    case "ParameterDescription":
      return b.parameterDescription(m.typeOids);
    case "ParseComplete":
      return b.parseComplete();
    case "BindComplete":
      return b.bindComplete();
    case "CloseComplete":
      return b.closeComplete();
    case "NoData":
      return b.noData();
    case "PortalSuspended":
      return b.portalSuspended();
    case "EmptyQueryResponse":
      return b.emptyQueryResponse();
    case "CopyInResponse":
    case "CopyOutResponse":
    case "CopyBothResponse":
      return b[COPY_TAG[m.type]](m.format, m.columnFormats);
    case "CopyData":
      return new MessageWriter("d", m.data.length).bytes(m.data).finish();
    case "CopyDone":
      return new MessageWriter("c", 0).finish();
    case "NegotiateProtocolVersion":
      return b.negotiateProtocolVersion(m.newestVersion, m.unrecognized);
    case "FunctionCallResponse":
      return b.functionCallResponse(m.value);
  }
}
