/**
 * Upstream server settings (ParameterStatus) the gateway's own reading depends on: its SQL
 * classification assumes UTF-8 and standard strings, and its binary conversion of dates assumes
 * ISO output (portal-formats.ts).
 */
import type { StatementClass } from "./classify";

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

/**
 * extra_float_digits is not reported (no ParameterStatus), so the session follows what it sees
 * set: a startup value, a SET, a set_config. At 0 or below float4out/float8out round, and the
 * binary made from rounded text is another number (binary-results.ts). Anything but a constant
 * above 0 counts as rounding; a SET back above 0 does not undo it (a ROLLBACK could), so once
 * seen the session keeps floats in text. A default set on the upstream role or database
 * (ALTER ROLE ... SET extra_float_digits) is not visible here.
 */
export function roundsFloats(value: string | undefined): boolean {
  return value === undefined || !/^\s*\+?\d+\s*$/.test(value) || Number(value) <= 0;
}

/** A statement that may set extra_float_digits to 0 or less (RESET counted too: it returns to a default the gateway may not know). */
export function mayRoundFloats(s: StatementClass): boolean {
  if (s.setting === "extra_float_digits" && roundsFloats(s.settingValue)) return true;
  return s.functions.some((f) => /(^|\.)"?set_config"?$/i.test(f));
}
