/**
 * Decoded PostgreSQL v3 messages, both directions. Names follow the protocol documentation
 * (https://www.postgresql.org/docs/current/protocol-message-formats.html). Binary payloads stay
 * Buffers — zero-copy views into the received frame — because column values in binary format
 * are not text and must reach masking and the client byte-exact.
 */

export type FormatCode = number; // 0 = text, 1 = binary; other values are the server's to reject

// ---- startup phase (untyped packets) ----

export interface StartupMessage {
  type: "StartupMessage";
  majorVersion: number;
  minorVersion: number;
  /** null-prototype object: a parameter named "__proto__" stays a plain key */
  params: Record<string, string>;
}

export type StartupPacket =
  | StartupMessage
  | { type: "SSLRequest" }
  | { type: "GSSENCRequest" }
  /** secretKey: 4 bytes up to protocol 3.1, up to 256 bytes from 3.2 (PostgreSQL 18) */
  | { type: "CancelRequest"; pid: number; secretKey: Buffer };

// ---- frontend (client → server), typed ----

export interface BindMessage {
  type: "Bind";
  portal: string;
  statement: string;
  /** 0 entries = all text, 1 = applies to all, else one per parameter */
  paramFormats: FormatCode[];
  params: (Buffer | null)[];
  resultFormats: FormatCode[];
}

export interface FunctionCallMessage {
  type: "FunctionCall";
  functionOid: number;
  argFormats: FormatCode[];
  args: (Buffer | null)[];
  resultFormat: FormatCode;
}

export type FrontendMessage =
  | { type: "Query"; text: string }
  | { type: "Parse"; name: string; text: string; paramTypes: number[] }
  | BindMessage
  | { type: "Describe"; target: "S" | "P"; name: string }
  | { type: "Execute"; portal: string; maxRows: number }
  | { type: "Close"; target: "S" | "P"; name: string }
  | { type: "Sync" }
  | { type: "Flush" }
  | { type: "Terminate" }
  | { type: "CopyData"; data: Buffer }
  | { type: "CopyDone" }
  | { type: "CopyFail"; message: string }
  | FunctionCallMessage
  | { type: "PasswordMessage"; password: string }
  /** data null = the client sent length -1 (no initial response) */
  | { type: "SASLInitialResponse"; mechanism: string; data: Buffer | null }
  | { type: "SASLResponse"; data: Buffer }
  /** a 'p' message parsed without knowing which authentication exchange it answers */
  | { type: "AuthenticationResponse"; data: Buffer };

/** What a 'p' message answers; only the session knows (it sent the Authentication request). */
export type AuthResponseKind = "password" | "sasl-initial" | "sasl";

// ---- backend (server → client) ----

export interface FieldDescription {
  name: string;
  /** 0 when the column is not a plain table column */
  tableOid: number;
  /** attribute number in that table, 0 otherwise */
  columnAttr: number;
  typeOid: number;
  /** negative for variable width (-1 varlena, -2 cstring) */
  typeSize: number;
  typeMod: number;
  format: FormatCode;
}

/** ErrorResponse / NoticeResponse fields, by the protocol's one-letter codes. */
export interface ErrorFields {
  /** S: localized severity */
  severity: string;
  /** V: never-localized severity (9.6+) */
  severityNonLocalized?: string;
  /** C: SQLSTATE */
  code: string;
  /** M */
  message: string;
  detail?: string; // D
  hint?: string; // H
  position?: string; // P
  internalPosition?: string; // p
  internalQuery?: string; // q
  where?: string; // W
  schema?: string; // s
  table?: string; // t
  column?: string; // c
  dataType?: string; // d
  constraint?: string; // n
  file?: string; // F
  line?: string; // L
  routine?: string; // R
  /** fields with codes this version does not know; clients must ignore them, we keep them */
  other?: Record<string, string>;
}

export type CopyResponseType = "CopyInResponse" | "CopyOutResponse" | "CopyBothResponse";

export interface CopyResponse {
  type: CopyResponseType;
  /** overall format: 0 text, 1 binary */
  format: number;
  columnFormats: FormatCode[];
}

export type TransactionStatus = "I" | "T" | "E";

export type BackendMessage =
  | { type: "AuthenticationOk" }
  | { type: "AuthenticationCleartextPassword" }
  | { type: "AuthenticationMD5Password"; salt: Buffer }
  | { type: "AuthenticationSASL"; mechanisms: string[] }
  | { type: "AuthenticationSASLContinue"; data: Buffer }
  | { type: "AuthenticationSASLFinal"; data: Buffer }
  /** Kerberos, GSS, SSPI: the gateway does not speak them, but must recognize them to refuse */
  | { type: "AuthenticationOther"; code: number; data: Buffer }
  | { type: "ParameterStatus"; name: string; value: string }
  | { type: "BackendKeyData"; pid: number; secretKey: Buffer }
  | { type: "ReadyForQuery"; status: TransactionStatus }
  | { type: "RowDescription"; fields: FieldDescription[] }
  | { type: "DataRow"; values: (Buffer | null)[] }
  | { type: "CommandComplete"; tag: string }
  | { type: "ErrorResponse"; fields: ErrorFields }
  | { type: "NoticeResponse"; fields: ErrorFields }
  | { type: "NotificationResponse"; pid: number; channel: string; payload: string }
  | { type: "ParameterDescription"; typeOids: number[] }
  | { type: "ParseComplete" }
  | { type: "BindComplete" }
  | { type: "CloseComplete" }
  | { type: "NoData" }
  | { type: "PortalSuspended" }
  | { type: "EmptyQueryResponse" }
  | CopyResponse
  | { type: "CopyData"; data: Buffer }
  | { type: "CopyDone" }
  /**
   * newestVersion is the whole version word, major << 16 | minor (196608 = 3.0): the protocol
   * docs say "newest minor version", but servers send — and libpq compares — the full number.
   */
  | { type: "NegotiateProtocolVersion"; newestVersion: number; unrecognized: string[] }
  | { type: "FunctionCallResponse"; value: Buffer | null };

/** Authentication request codes ('R' messages). */
export const AuthCode = {
  ok: 0,
  kerberosV5: 2,
  cleartextPassword: 3,
  md5Password: 5,
  gss: 7,
  gssContinue: 8,
  sspi: 9,
  sasl: 10,
  saslContinue: 11,
  saslFinal: 12,
} as const;
