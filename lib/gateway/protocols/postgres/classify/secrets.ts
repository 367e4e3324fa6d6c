import { scanSync } from "libpg-query";
import { isClassifierReady } from "./parser";

/**
 * A statement as the recording, the live view and approvers see it when it carries a
 * credential: `CREATE/ALTER ROLE … PASSWORD '…'` (psql's `\password` sends one, with a SCRAM
 * verifier), `OPTIONS (password '…')` of user mappings and foreign servers, and connection
 * strings with `password=` (dblink, subscriptions). The literal becomes '[REDACTED]'. What runs,
 * what policy decides on and what an approval binds stay the statement itself. Null when there
 * is nothing to hide; when the statement cannot be scanned but mentions a password, all of it
 * is withheld (fail closed).
 */
export const WITHHELD_STATEMENT = "[statement withheld: it may carry a password]";
const STRING_TOKENS = new Set(["SCONST", "USCONST"]);

export function withoutSecrets(text: string): string | null {
  if (!/password/i.test(text)) return null;
  if (!isClassifierReady()) return WITHHELD_STATEMENT;
  let tokens;
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return WITHHELD_STATEMENT;
  }
  // Token offsets count UTF-8 bytes.
  const bytes = Buffer.from(text, "utf8");
  const cuts: [number, number][] = [];
  let previous = "";
  for (const t of tokens) {
    if (STRING_TOKENS.has(t.tokenName) && (previous === "password" || /password\s*=/i.test(t.text))) cuts.push([t.start, t.end]);
    if (!t.tokenName.startsWith("C_COMMENT") && !t.tokenName.startsWith("SQL_COMMENT")) previous = t.text.replace(/^"|"$/g, "").toLowerCase();
  }
  if (!cuts.length) return null;
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    parts.push(bytes.subarray(at, start), Buffer.from("'[REDACTED]'"));
    at = end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString("utf8");
}
