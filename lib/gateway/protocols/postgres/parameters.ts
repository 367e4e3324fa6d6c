/**
 * Upstream server settings (ParameterStatus) the gateway's own reading depends on: its SQL
 * classification assumes UTF-8 and standard strings, and its binary conversion of dates assumes
 * ISO output (portal-formats.ts).
 */

/** A server setting under which the gateway's reading of SQL text would differ from the server's. */
export function unsafeParameter(name: string, value: string): string | null {
  const n = name.toLowerCase();
  if (n === "client_encoding" && !/^(utf8|utf-8|unicode)$/i.test(value.trim())) return `client_encoding ${value} is not supported through the gateway`;
  if (n === "standard_conforming_strings" && value.trim().toLowerCase() === "off") return "standard_conforming_strings=off is not supported through the gateway";
  return null;
}

/** "ISO, MDY" → true; "SQL, DMY", "German", "Postgres" → false */
export function isIsoDateStyle(value: string): boolean {
  return value.trim().toUpperCase().startsWith("ISO");
}
