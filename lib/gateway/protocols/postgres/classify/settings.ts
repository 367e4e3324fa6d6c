import { asArray, isObject, str, unwrap } from "./ast";

/**
 * Session settings that only change how this session formats, limits or labels its own work.
 * Drivers and ORMs send them on every connect (`SET application_name`, `SET TIME ZONE 'UTC'`,
 * `SET extra_float_digits = 3`, `SET search_path TO app`), so classifying them as admin would
 * hold every connection. They are "read"-kind session changes; everything else a SET can touch
 * (role, session_authorization, work_mem, row_security, anything unlisted) stays admin.
 *
 * search_path is on the list on purpose: it changes which table an unqualified name resolves
 * to, but never what the gateway classifies (tables are reported as written) or masks (masking
 * resolves columns from RowDescription OIDs, and an unqualified name in an expression counts
 * every relation of that name: source-plans.ts), and putting a schema of one's own first only
 * matters with objects created there, which is DDL.
 *
 * client_encoding and standard_conforming_strings are harmless only at the values the
 * gateway's parser reads the same way as the server (UTF8, on): the session refuses other values
 * (byteReadingProblem) and ends the session if the server reports them anyway.
 */
export const HARMLESS_SETTINGS: ReadonlySet<string> = new Set([
  "application_name",
  "search_path",
  "timezone",
  "datestyle",
  "intervalstyle",
  "extra_float_digits",
  "client_encoding",
  "standard_conforming_strings",
  "statement_timeout",
  "lock_timeout",
  "idle_in_transaction_session_timeout",
  "idle_session_timeout",
  "client_min_messages",
  "bytea_output",
  "default_transaction_isolation",
  "default_transaction_read_only",
  "default_transaction_deferrable",
  "transaction_isolation",
  "transaction_read_only",
  "transaction_deferrable",
]);

/** Settings set_config() may change as a read: the list above minus those the session must screen by value. */
export const HARMLESS_SET_CONFIG: ReadonlySet<string> = new Set([...HARMLESS_SETTINGS].filter((s) => s !== "client_encoding" && s !== "standard_conforming_strings"));

/** The constant a SET assigns, as text ("UTF8", "5000", "a, b"); undefined when not all constants (or none). */
export function settingValue(node: Record<string, unknown>): string | undefined {
  const args = asArray(node.args);
  if (node.kind !== "VAR_SET_VALUE" || args.length === 0) return undefined;
  const parts: string[] = [];
  for (const a of args) {
    const text = constantText(a);
    if (text === undefined) return undefined;
    parts.push(text);
  }
  return parts.join(", ");
}

/** `{ A_Const: { sval | ival | fval | boolval } }` → its text; anything else → undefined. */
export function constantText(node: unknown): string | undefined {
  const u = unwrap(node);
  if (!u || u[0] !== "A_Const" || u[1].isnull === true) return undefined;
  const c = u[1];
  if (isObject(c.sval)) return str(c.sval.sval) ?? "";
  if (isObject(c.ival)) return String(typeof c.ival.ival === "number" ? c.ival.ival : 0);
  if (isObject(c.fval)) return str(c.fval.fval);
  if (isObject(c.boolval)) return c.boolval.boolval === true ? "true" : "false";
  return undefined;
}

/**
 * Why this SET would make the server read bytes differently from the gateway's parser, or null.
 * A RESET/DEFAULT returns to the connection's own (screened) value.
 */
export function byteReadingProblem(setting: string, value: string | undefined, kind: unknown): string | null {
  if (setting !== "client_encoding" && setting !== "standard_conforming_strings") return null;
  if (kind === "VAR_RESET" || kind === "VAR_SET_DEFAULT") return null;
  const v = (value ?? "").trim().toLowerCase();
  if (setting === "client_encoding") return /^(utf8|utf-8|unicode)$/.test(v) ? null : `client_encoding ${value ?? "(not a constant)"}`;
  return /^(on|true|yes|1)$/.test(v) ? null : `standard_conforming_strings ${value ?? "(not a constant)"}`;
}

/** A constant or a Bind parameter, possibly cast: a value the client wrote itself. */
export function clientValue(node: unknown): boolean {
  const u = unwrap(node);
  if (!u) return false;
  if (u[0] === "TypeCast") return clientValue(u[1].arg);
  return u[0] === "ParamRef" || constantText(node) !== undefined;
}
