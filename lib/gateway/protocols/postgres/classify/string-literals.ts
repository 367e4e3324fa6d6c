/**
 * The string constants of a statement as PostgreSQL reads them: `'…'` (quotes doubled), `E'…'`
 * (backslash escapes), `U&'…'` (Unicode escapes), `N'…'`, and dollar quoting (`$$…$$`,
 * `$tag$…$tag$`), with their place in the text. Comments and quoted identifiers are skipped; bit
 * strings (`B'…'`, `X'…'`) are not text. A small lexer of its own rather than libpg-query's
 * scanner: this runs on every statement that has a quote or a dollar in it, and the scanner
 * costs ~160 µs a statement where this costs about a microsecond per 100 characters.
 *
 * `backslashEscapes`: read plain '…' strings as standard_conforming_strings=off would (a
 * backslash escapes there too), so that a caller can look at both readings.
 */
export interface StringLiteral {
  /** character offsets of the whole literal in the statement, quotes and prefix included */
  start: number;
  end: number;
  value: string;
  /** a plain '…' literal with a backslash in it: its value differs under standard_conforming_strings=off */
  ambiguous?: boolean;
}

const IDENT = /[A-Za-z0-9_\u0080-\uffff]/;
const NEXT = /['"$]|--|\/\*/g;

export function stringLiterals(text: string, opts: { backslashEscapes?: boolean } = {}): StringLiteral[] {
  const out: StringLiteral[] = [];
  let i = 0;
  while (i < text.length) {
    // straight to the next character that can start a comment, a quoted name or a literal
    NEXT.lastIndex = i;
    const found = NEXT.exec(text);
    if (!found) break;
    i = found.index;
    const c = text[i];
    const prev = i > 0 ? text[i - 1] : "";
    if (c === "-" && text[i + 1] === "-") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl + 1;
    } else if (c === "/" && text[i + 1] === "*") {
      i = skipBlockComment(text, i);
    } else if (c === '"') {
      i = closingQuote(text, i + 1, '"', false) + 1;
    } else if (c === "'") {
      const kind = prefixOf(text, i);
      const start = i - kind.prefix.length;
      const end = closingQuote(text, i + 1, "'", !!kind.escapes || (!!kind.plain && !!opts.backslashEscapes)) + 1;
      const body = text.slice(i + 1, end - 1);
      if (kind.bits) {
        // bit strings are not text
      } else if (kind.escapes || (kind.plain && opts.backslashEscapes)) out.push({ start, end, value: unescapeE(body) });
      else if (kind.unicode) out.push({ start, end, value: unescapeU(body.replace(/''/g, "'")) });
      else out.push({ start, end, value: body.replace(/''/g, "'"), ...(body.includes("\\") ? { ambiguous: true } : {}) });
      i = end;
    } else if (c === "$" && !IDENT.test(prev) && prev !== "$") {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(text.slice(i, i + 64));
      if (!tag) {
        i++;
        continue;
      }
      const close = text.indexOf(tag[0], i + tag[0].length);
      const end = close < 0 ? text.length : close + tag[0].length;
      out.push({ start: i, end, value: text.slice(i + tag[0].length, close < 0 ? text.length : close) });
      i = end;
    } else {
      i++;
    }
  }
  return out;
}

/** The prefix letters before a quote at `q`: E (escapes), U& (Unicode), N (national), B/X (bits). */
function prefixOf(text: string, q: number): { prefix: string; escapes?: boolean; unicode?: boolean; bits?: boolean; plain?: boolean } {
  const before = (n: number) => (q - n - 1 < 0 ? "" : text[q - n - 1]);
  const standalone = (n: number) => !IDENT.test(before(n));
  const p1 = before(0).toUpperCase();
  if (p1 === "&" && before(1).toUpperCase() === "U" && standalone(2)) return { prefix: text.slice(q - 2, q), unicode: true };
  if ((p1 === "E" || p1 === "N" || p1 === "B" || p1 === "X") && standalone(1)) {
    return { prefix: text[q - 1], ...(p1 === "E" ? { escapes: true } : p1 === "N" ? { plain: true } : { bits: true }) };
  }
  return { prefix: "", plain: true };
}

/** The index of the closing quote from `i` on (doubled quotes, and backslash escapes when `escapes`), or the end. */
function closingQuote(text: string, i: number, quote: string, escapes: boolean): number {
  while (i < text.length) {
    const c = text[i];
    if (escapes && c === "\\") i += 2;
    else if (c === quote && text[i + 1] === quote) i += 2;
    else if (c === quote) return i;
    else i++;
  }
  return text.length;
}

function skipBlockComment(text: string, i: number): number {
  let depth = 0;
  while (i < text.length) {
    if (text[i] === "/" && text[i + 1] === "*") {
      depth++;
      i += 2;
    } else if (text[i] === "*" && text[i + 1] === "/") {
      depth--;
      i += 2;
      if (depth === 0) return i;
    } else i++;
  }
  return text.length;
}

const SIMPLE: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

/** E'…' escapes: \b \f \n \r \t, \ooo, \xhh, \uXXXX, \UXXXXXXXX, any other \c is c; '' is '. */
function unescapeE(body: string): string {
  return body.replace(/''|\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|([\s\S]))/g, (m, oct, hex, u4, u8, other) => {
    if (m === "''") return "'";
    if (oct) return String.fromCharCode(parseInt(oct, 8) & 0xff);
    if (hex) return String.fromCharCode(parseInt(hex, 16));
    if (u4 || u8) return codePoint(parseInt(u4 ?? u8, 16));
    return SIMPLE[other] ?? other;
  });
}

/** U&'…' escapes with the default escape character: \XXXX, \+XXXXXX, \\ (a UESCAPE clause is not followed: read as written). */
function unescapeU(body: string): string {
  return body.replace(/\\(?:([0-9A-Fa-f]{4})|\+([0-9A-Fa-f]{6})|(\\))/g, (m, u4, u6, bs) => (bs ? "\\" : codePoint(parseInt(u4 ?? u6, 16))));
}

const codePoint = (n: number) => (n <= 0x10ffff ? String.fromCodePoint(n) : "\ufffd");
