/**
 * What an approval is bound to. An approval covers exactly one thing: this statement text,
 * these parameters, on this connection, asked by this requester through this delegation chain.
 * The binding hash is sha256 over a canonical encoding of all of them; two requests that could
 * run differently must never share a hash, so every normalization here errs towards "different".
 */
import { createHash } from "node:crypto";
import type { Actor, ConnectionRef } from "@/lib/gateway/core/types";

export interface BindingInput {
  connectionId: string;
  requesterUserId: string;
  /** the full actor chain, root first */
  chain: Pick<Actor, "kind" | "id" | "name">[];
  action: string;
  normalizedText: string;
  /** bound parameters; `undefined` (no Bind) and `[]` are deliberately different */
  params?: readonly (string | null)[] | null;
}

/** Bump when the encoding changes: old windows then simply stop matching (fail closed). */
const BINDING_VERSION = "gatehouse.approval.v1";

export function bindingHash(input: BindingInput): string {
  // A JSON array is an unambiguous encoding: strings are quoted and escaped, null is not "null",
  // so no choice of text or params can make two different inputs serialize the same.
  // tokenId is left out on purpose: the same human + agents re-authenticating is the same
  // requester; single use is enforced by the request id, not by the hash, and revoking a token
  // ends the windows of the requests made with it (revokeToken).
  const canonical = JSON.stringify([
    BINDING_VERSION,
    input.connectionId,
    input.requesterUserId,
    input.chain.map((a) => [a.kind, a.id, a.name]),
    input.action,
    input.normalizedText,
    input.params === undefined || input.params === null ? null : [...input.params],
  ]);
  return createHash("sha256").update(canonical, "utf8").digest("hex");
}

/** SQL connections get whitespace normalization; everything else (shell, exec, HTTP) is exact. */
export function normalizeForConnection(type: ConnectionRef["type"], text: string): string {
  return type === "postgres" || type === "mysql" ? normalizeSqlText(text) : text;
}

const WS = new Set([" ", "\t", "\n", "\r"]);
const IDENT_CHAR = /[A-Za-z0-9_\u0080-\uffff]/;
const DOLLAR_TAG = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/;

/**
 * Collapses runs of ASCII space/tab/CR/LF OUTSIDE literals to one space and trims the ends, so
 * re-indenting a statement does not need a new approval. Literals ('...', "...", `...`, $tag$...$tag$)
 * are copied byte for byte. Whenever the lexing is not certain, the text is returned unchanged:
 *  - any backslash: E'' strings, standard_conforming_strings=off and MySQL all give it escape
 *    meaning, so we cannot know where a literal ends;
 *  - any comment (`--`, `/*`, `#`): `-- x\nDROP ...` and `-- x DROP ...` differ only in a newline;
 *  - a `$` that is neither `$1` nor a closed dollar-quote tag (identifiers like a$b).
 * A whitespace run with a newline between two quoted literals stays a newline: PostgreSQL
 * concatenates 'a'\n'b' but rejects 'a' 'b'.
 */
export function normalizeSqlText(text: string): string {
  if (text.includes("\\")) return text;
  let out = "";
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    if (WS.has(c)) {
      let j = i;
      let newline = false;
      while (j < n && WS.has(text[j])) {
        if (text[j] === "\n" || text[j] === "\r") newline = true;
        j++;
      }
      const betweenStrings = newline && out.endsWith("'") && text[j] === "'";
      out += betweenStrings ? "\n" : " ";
      i = j;
      continue;
    }
    if ((c === "-" && text[i + 1] === "-") || (c === "/" && text[i + 1] === "*") || c === "#") return text;
    if (c === "'" || c === '"' || c === "`") {
      const end = closingQuote(text, i, c);
      if (end < 0) return text;
      out += text.slice(i, end + 1);
      i = end + 1;
      continue;
    }
    if (c === "$") {
      const prev = text[i - 1];
      if (prev !== undefined && IDENT_CHAR.test(prev)) return text;
      const param = /^\$[0-9]+/.exec(text.slice(i, i + 12));
      if (param) {
        out += param[0];
        i += param[0].length;
        continue;
      }
      const tag = DOLLAR_TAG.exec(text.slice(i, i + 70));
      if (!tag) return text;
      const close = text.indexOf(tag[0], i + tag[0].length);
      if (close < 0) return text;
      const end = close + tag[0].length;
      out += text.slice(i, end);
      i = end;
      continue;
    }
    out += c;
    i++;
  }
  // Only our own collapsed spaces are trimmed: String.trim() would also eat NBSP and \f, which
  // PostgreSQL treats as identifier characters or leaves significant.
  return out.replace(/^ /, "").replace(/ $/, "");
}

/** Index of the quote closing the literal opened at `start`; a doubled quote is an escaped one. */
function closingQuote(text: string, start: number, quote: string): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === quote) {
      if (text[i + 1] === quote) {
        i += 2;
        continue;
      }
      return i;
    }
    i++;
  }
  return -1;
}
