import { REDACTED, type Masker } from "@/lib/gateway/masking";
import { MESSAGE_GAPS } from "./message-gaps";
import type { ErrorFields } from "./wire";

/**
 * ErrorResponse / NoticeResponse text under a masker. The server quotes the values it failed on:
 * `select password_hash::int` answers `invalid input syntax for type integer: "pbkdf2$Zq9…"`,
 * `::regclass` answers `relation "…" does not exist`, a unique violation's DETAIL is
 * `Key (login)=(…) already exists`, a JSON cast's CONTEXT prints the text, and RAISE in a
 * function prints anything. Detectors alone (maskText) miss a value only a column rule knows
 * (a password hash looks like nothing), and the error carries no column lineage to apply the
 * rule with. So, fail closed, only what the client itself sent may come back:
 *
 * - message: a quoted span is kept when the client's own text (statement and parameters)
 *   contains it (identifiers, literals: `relation "nosuch" does not exist`), otherwise it is
 *   redacted with everything up to the last quote (a value may itself contain quotes), and so is
 *   a text between two spans that is not one PostgreSQL writes there (message-gaps.ts); bare
 *   numbers and 0x bytes the client did not write are redacted. Raised inside code (a `where`
 *   CONTEXT: PL/pgSQL, a trigger, dynamic SQL, JSON parsing) the message is code-made text and is
 *   withheld whole.
 * - detail, CONTEXT (`where`), internal query: withheld (their data is unquoted).
 * - hint: as the message (templates such as "Perhaps you meant …"), withheld when raised in code.
 *
 * Knowing the client's text makes this no stronger an oracle than `WHERE col = 'guess'`.
 * Detectors still run on what is kept.
 */

/** `clientText` null: the request's text is not known (a notice outside any request): detectors only. */
export function maskServerFields(fields: ErrorFields, masker: Masker, clientText: string | null): ErrorFields {
  const out: ErrorFields = { ...fields };
  if (clientText === null) {
    for (const k of ["message", "detail", "hint", "where", "internalQuery"] as const) if (out[k]) out[k] = masker.maskText(out[k]!);
    return out;
  }
  const known = clientText.toLowerCase();
  const inCode = fields.where !== undefined && fields.where !== "";
  out.message = inCode ? REDACTED : masker.maskText(keepKnown(fields.message, known));
  if (fields.hint) out.hint = inCode ? REDACTED : masker.maskText(keepKnown(fields.hint, known));
  for (const k of ["detail", "where", "internalQuery", "internalPosition"] as const) delete out[k];
  return out;
}

/** The text with every quoted span, number and 0x byte run the client did not write redacted. */
export function keepKnown(text: string, known: string): string {
  const first = text.indexOf('"');
  if (first < 0) return bareValues(text, known);
  const last = text.lastIndexOf('"');
  // An odd count: some value holds a quote, so no pairing can be trusted.
  if ((text.split('"').length - 1) % 2 === 1) return `${bareValues(text.slice(0, first), known)}"${REDACTED}"${bareValues(text.slice(last + 1), known)}`;
  // Quotes pair up left to right; from the first span the client did not write to the last
  // quote everything goes (a value containing `"` shifts the pairing). So does everything from a
  // text between two spans that no message of PostgreSQL's puts there: with the pairing shifted,
  // that text is the inside of a value (`quote_ident(v)::int`: `...: ""v""`, the spans empty).
  let out = bareValues(text.slice(0, first), known);
  let at = first;
  while (at >= 0 && at < last) {
    const close = text.indexOf('"', at + 1);
    const span = text.slice(at + 1, close);
    const next = text.indexOf('"', close + 1);
    const gap = text.slice(close + 1, next < 0 ? text.length : next);
    if (!known.includes(span.toLowerCase()) || (next >= 0 && !MESSAGE_GAPS.has(gap))) return `${out}"${REDACTED}"${bareValues(text.slice(last + 1), known)}`;
    out += `"${span}"${bareValues(gap, known)}`;
    at = next;
  }
  return out;
}

/** Unquoted numbers and byte dumps (`chr(n)`: "requested character too large for encoding: 1114112"). */
function bareValues(text: string, known: string): string {
  return text.replace(/\b(?:0x[0-9a-f]+|\d[\d.]*)\b/gi, (m) => (known.includes(m.toLowerCase()) ? m : REDACTED));
}
