import { scanSync } from "libpg-query";
import { credentialSpans } from "@/lib/gateway/recorder/credential-scrub";
import { isClassifierReady } from "./parser";
import { stringLiterals } from "./string-literals";

/**
 * A statement as the recording, the live view and approvers see it when it carries a
 * credential: `CREATE/ALTER ROLE … PASSWORD '…'` (psql's `\password` sends one, with a SCRAM
 * verifier), `OPTIONS (password '…')` of user mappings and foreign servers, and connection
 * strings with `password=` (dblink, subscriptions); and a Gatehouse credential split over several
 * string constants or written with escapes (splitCredentialCuts). The literal becomes '[REDACTED]'. What runs,
 * what policy decides on and what an approval binds stay the statement itself. Null when there
 * is nothing to hide; when the statement cannot be scanned but mentions a password, all of it
 * is withheld (fail closed).
 */
export const WITHHELD_STATEMENT = "[statement withheld: it may carry a password]";
const STRING_TOKENS = new Set(["SCONST", "USCONST"]);

export function withoutSecrets(text: string): string | null {
  const passwords = passwordCuts(text);
  if (passwords === WITHHELD) return WITHHELD_STATEMENT;
  const cuts = [...passwords, ...splitCredentialCuts(text)].sort((a, b) => a[0] - b[0]);
  if (!cuts.length) return null;
  const bytes = Buffer.from(text, "utf8");
  const parts: Buffer[] = [];
  let at = 0;
  for (const [start, end] of cuts) {
    if (start < at) continue; // one literal found both ways
    parts.push(bytes.subarray(at, start), Buffer.from("'[REDACTED]'"));
    at = end;
  }
  parts.push(bytes.subarray(at));
  return Buffer.concat(parts).toString("utf8");
}

const WITHHELD = Symbol("withheld");

/** Byte ranges of the string literals given as passwords (token offsets count UTF-8 bytes). */
function passwordCuts(text: string): [number, number][] | typeof WITHHELD {
  if (!/password/i.test(text)) return [];
  if (!isClassifierReady()) return WITHHELD;
  let tokens;
  try {
    tokens = scanSync(text).tokens;
  } catch {
    return WITHHELD;
  }
  const cuts: [number, number][] = [];
  let previous = "";
  for (const t of tokens) {
    if (STRING_TOKENS.has(t.tokenName) && (previous === "password" || /password\s*=/i.test(t.text))) cuts.push([t.start, t.end]);
    if (!t.tokenName.startsWith("C_COMMENT") && !t.tokenName.startsWith("SQL_COMMENT")) previous = t.text.replace(/^"|"$/g, "").toLowerCase();
  }
  return cuts;
}

/**
 * Byte ranges of the string literals that, read as PostgreSQL reads them and put together in
 * order, spell a Gatehouse credential: `'eyJhbGci' || 'OiJ…'`, `concat(…)`, `E'\x65yJ…'`,
 * `$$…$$`, `U&'…'`. The recorder's scrubbing (credential-scrub.ts) sees only the text as written,
 * where no part is a credential, so the token was recorded and shown to approvers in clear. Every
 * part is cut (fail closed: also a part that would have been harmless alone); a credential written
 * out whole in one literal is left to that scrubbing (a placeholder of its length). Plain literals with
 * a backslash are read both ways (standard_conforming_strings on and off).
 */
function splitCredentialCuts(text: string): [number, number][] {
  if (!text.includes("'") && !text.includes("$")) return [];
  const cut = new Map<number, number>();
  const readings = [stringLiterals(text)];
  if (readings[0].some((l) => l.ambiguous)) readings.push(stringLiterals(text, { backslashEscapes: true }));
  for (const literals of readings) {
    if (!literals.length) continue;
    const offsets: number[] = [];
    let joined = "";
    for (const l of literals) {
      offsets.push(joined.length);
      joined += l.value;
    }
    // nothing shorter than a credential, nor without the start of one, needs the search
    if (joined.length < 37 || (!joined.includes("eyJ") && !joined.includes("gatehouse-console:"))) continue;
    for (const [from, to] of credentialSpans(joined)) {
      const parts = literals.filter((l, i) => offsets[i] < to && offsets[i] + l.value.length > from);
      // written out whole in one literal: the recorder's scrubbing replaces it, keeping the length
      if (parts.length === 1 && text.slice(parts[0].start, parts[0].end).includes(joined.slice(from, to))) continue;
      for (const l of parts) cut.set(l.start, l.end);
    }
  }
  const byteAt = (i: number) => Buffer.byteLength(text.slice(0, i));
  return [...cut].map(([start, end]) => [byteAt(start), byteAt(end)]);
}
