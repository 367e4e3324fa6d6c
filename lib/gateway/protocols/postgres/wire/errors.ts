/**
 * The one error the wire layer throws. Everything malformed that arrives from a peer — a bad
 * length, a truncated field, invalid UTF-8 — becomes a ProtocolError carrying the SQLSTATE a
 * PostgreSQL server would answer with, so the session can send one ErrorResponse and close the
 * connection. A frame parser never throws anything else on hostile input (the fuzz tests hold
 * us to that); a RangeError from Buffer would mean a missing bounds check.
 */

/** SQLSTATEs the wire layer uses (PostgreSQL errcodes.txt). */
export const SqlState = {
  protocolViolation: "08P01",
  featureNotSupported: "0A000",
  invalidByteSequence: "22021",
  invalidAuthorization: "28000",
  invalidPassword: "28P01",
} as const;

export class ProtocolError extends Error {
  constructor(
    message: string,
    /** SQLSTATE for the ErrorResponse (default 08P01 protocol_violation) */
    readonly sqlState: string = SqlState.protocolViolation,
  ) {
    super(message);
    this.name = "ProtocolError";
  }

  /** Fields for build.errorResponse; protocol errors end the connection, hence FATAL. */
  toErrorFields(): { severity: string; severityNonLocalized: string; code: string; message: string } {
    return { severity: "FATAL", severityNonLocalized: "FATAL", code: this.sqlState, message: this.message };
  }
}
