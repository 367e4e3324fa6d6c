/**
 * A JWS in compact form, as every Gatehouse token and most IdP tokens are: a base64url JSON header
 * (always starting "eyJ", i.e. `{"`), a payload and a signature. Nothing that names a user, a
 * connection or a database looks like that.
 */
const TOKEN_SHAPED = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g;

/**
 * `text` with every token-shaped part replaced. For identity fields a client fills in (a database
 * user, an SSH user name, a database name) before they are audited or logged: a token pasted into
 * the wrong field is still a working credential, and the audit log is append-only and read by
 * every auditor.
 */
export function withoutTokens(text: string): string {
  return text.replace(TOKEN_SHAPED, "[REDACTED token]");
}
