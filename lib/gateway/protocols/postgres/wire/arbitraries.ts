import fc from "fast-check";
import type { AuthResponseKind, BackendMessage, ErrorFields, FrontendMessage, StartupPacket } from "../wire";

/**
 * fast-check generators for every message in both directions (test support only). Strings are
 * well-formed Unicode without NUL, which is all a C string on the wire can carry.
 */

const cstr = fc.string({ unit: "grapheme", maxLength: 24 }).map((s) => s.replace(/\0/g, ""));
const nonEmpty = cstr.filter((s) => s.length > 0);
const bytes = fc.uint8Array({ maxLength: 48 }).map((u) => Buffer.from(u));
const nullable = fc.option(bytes, { nil: null });
const int16 = fc.integer({ min: -0x8000, max: 0x7fff });
const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const target = fc.constantFrom<"S" | "P">("S", "P");

/** Values plus a format list that is empty, shared, or one per value (what the server accepts). */
const valuesWithFormats = fc.array(nullable, { maxLength: 6 }).chain((values) =>
  fc.tuple(fc.constant(values), fc.oneof(fc.constant([] as number[]), fc.array(int16, { minLength: 1, maxLength: 1 }), fc.array(int16, { minLength: values.length, maxLength: values.length }))),
);

/** A frontend message and the 'p' context needed to parse it back. */
export const frontendMessage: fc.Arbitrary<{ msg: FrontendMessage; auth?: AuthResponseKind }> = fc.oneof(
  cstr.map((text) => ({ msg: { type: "Query", text } as FrontendMessage })),
  fc.record({ name: cstr, text: cstr, paramTypes: fc.array(uint32, { maxLength: 5 }) }).map((m) => ({ msg: { type: "Parse", ...m } as FrontendMessage })),
  fc.tuple(cstr, cstr, valuesWithFormats, fc.array(int16, { maxLength: 4 })).map(([portal, statement, [params, paramFormats], resultFormats]) => ({
    msg: { type: "Bind", portal, statement, paramFormats, params, resultFormats } as FrontendMessage,
  })),
  fc.tuple(target, cstr).map(([t, name]) => ({ msg: { type: "Describe", target: t, name } as FrontendMessage })),
  fc.tuple(target, cstr).map(([t, name]) => ({ msg: { type: "Close", target: t, name } as FrontendMessage })),
  fc.tuple(cstr, int32).map(([portal, maxRows]) => ({ msg: { type: "Execute", portal, maxRows } as FrontendMessage })),
  fc.constantFrom<FrontendMessage>({ type: "Sync" }, { type: "Flush" }, { type: "Terminate" }, { type: "CopyDone" }).map((msg) => ({ msg })),
  bytes.map((data) => ({ msg: { type: "CopyData", data } as FrontendMessage })),
  cstr.map((message) => ({ msg: { type: "CopyFail", message } as FrontendMessage })),
  fc.tuple(uint32, valuesWithFormats, int16).map(([functionOid, [args, argFormats], resultFormat]) => ({
    msg: { type: "FunctionCall", functionOid, argFormats, args, resultFormat } as FrontendMessage,
  })),
  cstr.map((password) => ({ msg: { type: "PasswordMessage", password } as FrontendMessage, auth: "password" as const })),
  fc.tuple(cstr, nullable).map(([mechanism, data]) => ({ msg: { type: "SASLInitialResponse", mechanism, data } as FrontendMessage, auth: "sasl-initial" as const })),
  bytes.map((data) => ({ msg: { type: "SASLResponse", data } as FrontendMessage, auth: "sasl" as const })),
  bytes.map((data) => ({ msg: { type: "AuthenticationResponse", data } as FrontendMessage })),
);

export const startupPacket: fc.Arbitrary<StartupPacket> = fc.oneof(
  fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.uniqueArray(fc.tuple(nonEmpty, cstr), { selector: ([k]) => k, maxLength: 6 })).map(
    ([minor, pairs]): StartupPacket => ({ type: "StartupMessage", majorVersion: 3, minorVersion: minor, params: Object.assign(Object.create(null), Object.fromEntries(pairs)) }),
  ),
  fc.constantFrom<StartupPacket>({ type: "SSLRequest" }, { type: "GSSENCRequest" }),
  fc.tuple(int32, fc.uint8Array({ minLength: 4, maxLength: 256 })).map(([pid, key]): StartupPacket => ({ type: "CancelRequest", pid, secretKey: Buffer.from(key) })),
);

const KNOWN_LETTERS = "SVCMDHPpqWstcdnFLR";
const otherLetter = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)).filter((c) => !KNOWN_LETTERS.includes(c));

const errorFields: fc.Arbitrary<ErrorFields> = fc
  .record(
    {
      severity: cstr,
      severityNonLocalized: cstr,
      code: cstr,
      message: cstr,
      detail: cstr,
      hint: cstr,
      position: cstr,
      internalPosition: cstr,
      internalQuery: cstr,
      where: cstr,
      schema: cstr,
      table: cstr,
      column: cstr,
      dataType: cstr,
      constraint: cstr,
      file: cstr,
      line: cstr,
      routine: cstr,
      other: fc.dictionary(otherLetter, cstr, { minKeys: 1, maxKeys: 3 }),
    },
    { requiredKeys: ["severity", "code", "message"] },
  )
  .map((f) => f as ErrorFields);

const fieldDescription = fc.record({ name: cstr, tableOid: uint32, columnAttr: int16, typeOid: uint32, typeSize: int16, typeMod: int32, format: int16 });

export const backendMessage: fc.Arbitrary<BackendMessage> = fc.oneof(
  fc.constantFrom<BackendMessage>(
    { type: "AuthenticationOk" },
    { type: "AuthenticationCleartextPassword" },
    { type: "ParseComplete" },
    { type: "BindComplete" },
    { type: "CloseComplete" },
    { type: "NoData" },
    { type: "PortalSuspended" },
    { type: "EmptyQueryResponse" },
    { type: "CopyDone" },
  ),
  fc.uint8Array({ minLength: 4, maxLength: 4 }).map((s): BackendMessage => ({ type: "AuthenticationMD5Password", salt: Buffer.from(s) })),
  fc.array(nonEmpty, { maxLength: 3 }).map((mechanisms): BackendMessage => ({ type: "AuthenticationSASL", mechanisms })),
  bytes.map((data): BackendMessage => ({ type: "AuthenticationSASLContinue", data })),
  bytes.map((data): BackendMessage => ({ type: "AuthenticationSASLFinal", data })),
  fc.tuple(fc.constantFrom(2, 7, 8, 9, 13, 99), bytes).map(([code, data]): BackendMessage => ({ type: "AuthenticationOther", code, data })),
  fc.tuple(cstr, cstr).map(([name, value]): BackendMessage => ({ type: "ParameterStatus", name, value })),
  fc.tuple(int32, fc.uint8Array({ minLength: 4, maxLength: 256 })).map(([pid, k]): BackendMessage => ({ type: "BackendKeyData", pid, secretKey: Buffer.from(k) })),
  fc.constantFrom<"I" | "T" | "E">("I", "T", "E").map((status): BackendMessage => ({ type: "ReadyForQuery", status })),
  fc.array(fieldDescription, { maxLength: 5 }).map((fields): BackendMessage => ({ type: "RowDescription", fields })),
  fc.array(nullable, { maxLength: 8 }).map((values): BackendMessage => ({ type: "DataRow", values })),
  cstr.map((tag): BackendMessage => ({ type: "CommandComplete", tag })),
  errorFields.map((fields): BackendMessage => ({ type: "ErrorResponse", fields })),
  errorFields.map((fields): BackendMessage => ({ type: "NoticeResponse", fields })),
  fc.tuple(int32, cstr, cstr).map(([pid, channel, payload]): BackendMessage => ({ type: "NotificationResponse", pid, channel, payload })),
  fc.array(uint32, { maxLength: 6 }).map((typeOids): BackendMessage => ({ type: "ParameterDescription", typeOids })),
  fc
    .tuple(fc.constantFrom("CopyInResponse", "CopyOutResponse", "CopyBothResponse") as fc.Arbitrary<"CopyInResponse">, fc.constantFrom(0, 1), fc.array(int16, { maxLength: 5 }))
    .map(([type, format, columnFormats]): BackendMessage => ({ type, format, columnFormats })),
  bytes.map((data): BackendMessage => ({ type: "CopyData", data })),
  fc.tuple(int32, fc.array(cstr, { maxLength: 3 })).map(([newestVersion, unrecognized]): BackendMessage => ({ type: "NegotiateProtocolVersion", newestVersion, unrecognized })),
  nullable.map((value): BackendMessage => ({ type: "FunctionCallResponse", value })),
);
