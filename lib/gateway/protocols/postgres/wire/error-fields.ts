import type { BodyReader, MessageWriter } from "./codec";
import type { ErrorFields } from "./messages";

/**
 * ErrorResponse / NoticeResponse bodies: a sequence of (Byte1 code, String value) terminated by
 * a zero byte. The letters are fixed by the protocol; we name them so masking and recording can
 * reach `detail` or `where` (where values leak) without remembering that 'W' means context.
 */

type NamedField = Exclude<keyof ErrorFields, "other">;

/** In the order PostgreSQL's send_message_to_frontend writes them. */
const FIELD_CODES: readonly [string, NamedField][] = [
  ["S", "severity"],
  ["V", "severityNonLocalized"],
  ["C", "code"],
  ["M", "message"],
  ["D", "detail"],
  ["H", "hint"],
  ["P", "position"],
  ["p", "internalPosition"],
  ["q", "internalQuery"],
  ["W", "where"],
  ["s", "schema"],
  ["t", "table"],
  ["c", "column"],
  ["d", "dataType"],
  ["n", "constraint"],
  ["F", "file"],
  ["L", "line"],
  ["R", "routine"],
];

const NAME_OF = new Map(FIELD_CODES);

export function readErrorFields(r: BodyReader): ErrorFields {
  const out: Partial<ErrorFields> = {};
  let other: Record<string, string> | undefined;
  for (;;) {
    const code = r.byte();
    if (code === 0) break;
    const letter = String.fromCharCode(code);
    const value = r.cstring();
    const name = NAME_OF.get(letter);
    if (name) out[name] = value;
    else (other ??= Object.create(null) as Record<string, string>)[letter] = value;
  }
  // S, C and M are always sent by PostgreSQL; a peer that omits them still gets a usable object.
  const fields: ErrorFields = { ...out, severity: out.severity ?? "ERROR", code: out.code ?? "XX000", message: out.message ?? "" };
  if (other) fields.other = other;
  return fields;
}

export function writeErrorFields(w: MessageWriter, f: ErrorFields): MessageWriter {
  for (const [letter, name] of FIELD_CODES) {
    const v = f[name];
    if (v !== undefined) w.byte(letter.charCodeAt(0)).cstring(v);
  }
  for (const [letter, v] of Object.entries(f.other ?? {})) {
    if (letter.length !== 1 || letter === "\0" || NAME_OF.has(letter)) continue;
    w.byte(letter.charCodeAt(0)).cstring(v);
  }
  return w.byte(0);
}
