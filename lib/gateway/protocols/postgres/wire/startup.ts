import { backendBuilders } from "./backend-build";
import { STARTUP_CODES } from "./frame-reader";
import type { StartupMessage } from "./messages";

/**
 * Startup-phase decisions that are pure protocol: which protocol version to speak and which
 * startup parameters may reach the upstream.
 *
 * Protocol version. The gateway speaks 3.0 on both sides. A client asking for 3.x (x > 0 — 3.2
 * is PostgreSQL 18's, and PostgreSQL 19 betas "grease" with 3.9999 plus `_pq_.*` options) gets
 * NegotiateProtocolVersion(3.0, unrecognized `_pq_.*` names) and continues at 3.0,
 * exactly as a 3.0-only server answers. 3.2's only wire change is the longer cancel key
 * (BackendKeyData/CancelRequest); the gateway issues its own keys to clients anyway (a client
 * must never learn or spoof the upstream's), so nothing is lost by staying at 3.0. A major
 * version other than 3 is refused by parseStartupPacket.
 */

export interface StartupNegotiation {
  /** NegotiateProtocolVersion to send before authentication, or null when none is needed */
  negotiate: Buffer | null;
  /** the client's parameters without `_pq_.*` protocol options */
  params: Record<string, string>;
}

export function negotiateStartup(msg: StartupMessage): StartupNegotiation {
  const params: Record<string, string> = Object.create(null);
  const unrecognized: string[] = [];
  for (const [k, v] of Object.entries(msg.params)) {
    if (k.startsWith("_pq_.")) unrecognized.push(k);
    else params[k] = v;
  }
  const negotiate = msg.minorVersion > 0 || unrecognized.length > 0 ? backendBuilders.negotiateProtocolVersion(STARTUP_CODES.protocol30, unrecognized) : null;
  return { negotiate, params };
}

/**
 * Startup parameters are GUC assignments the server applies before the first statement — an
 * unclassified `SET` that never passes the policy. Only display/formatting settings are
 * forwarded; everything else is dropped or refused:
 * - `options` carries command-line switches (`-c role=admin`, `-c search_path=...`): refused.
 * - `replication` turns the backend into a walsender that speaks replication commands, not
 *   SQL the classifier understands: refused.
 * - `client_encoding` other than UTF8: refused. The wire layer decodes strictly as UTF-8;
 *   in client-only encodings such as SJIS or BIG5 a byte sequence can hide a quote or a
 *   backslash from a UTF-8 reader (the CVE-2006-2313 class of bugs).
 * Names are compared case-insensitively because GUC names are.
 */
const FORWARDED = new Set(["application_name", "datestyle", "timezone", "intervalstyle", "extra_float_digits", "client_encoding"]);
const UTF8_NAMES = new Set(["utf8", "utf-8", "unicode"]);

export interface ScreenedStartupParams {
  user: string | null;
  /** the database the client asked for: for the gateway, the connection name */
  database: string | null;
  /** parameters safe to pass to the upstream StartupMessage */
  forward: Record<string, string>;
  /** ignored parameters (the session may say so in a NoticeResponse) */
  dropped: string[];
  /** reasons the connection must be refused (FATAL, SQLSTATE 08P01 / 0A000) */
  refused: string[];
}

export function screenStartupParams(params: Record<string, string>): ScreenedStartupParams {
  const out: ScreenedStartupParams = { user: null, database: null, forward: Object.create(null), dropped: [], refused: [] };
  for (const [name, value] of Object.entries(params)) {
    const key = name.toLowerCase();
    if (key === "user") out.user = value;
    else if (key === "database") out.database = value;
    else if (key === "options") out.refused.push("startup parameter \"options\" is not allowed through the gateway");
    else if (key === "replication") out.refused.push("replication connections are not allowed through the gateway");
    else if (key === "client_encoding" && !UTF8_NAMES.has(value.trim().toLowerCase())) {
      out.refused.push(`client_encoding "${value}" is not supported; use UTF8`);
    } else if (FORWARDED.has(key)) out.forward[name] = value;
    else out.dropped.push(name);
  }
  if (!out.user) out.refused.push("no PostgreSQL user name specified in startup packet");
  // PostgreSQL defaults the database to the user name; the gateway needs it explicit only as a
  // connection name, so the same default applies.
  if (out.database === null || out.database === "") out.database = out.user;
  return out;
}
