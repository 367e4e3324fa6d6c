/** A small Cedar tokenizer for highlighting only; validation is Cedar's own (server side). */
export type TokenKind = "keyword" | "scope" | "string" | "comment" | "annotation" | "entity" | "number" | "operator" | "text";
export interface Token { kind: TokenKind; text: string }

const KEYWORDS = new Set(["permit", "forbid", "when", "unless", "in", "is", "has", "like", "if", "then", "else", "true", "false"]);
const SCOPE = new Set(["principal", "action", "resource", "context"]);
const RULES: [TokenKind, RegExp][] = [
  ["comment", /\/\/[^\n]*/y],
  ["string", /"(?:[^"\\\n]|\\.)*"?/y],
  ["annotation", /@[A-Za-z_][A-Za-z0-9_]*/y],
  ["entity", /[A-Z][A-Za-z0-9_]*(?:::[A-Z][A-Za-z0-9_]*)*(?=::")/y],
  ["number", /-?\d+/y],
  ["operator", /==|!=|<=|>=|&&|\|\||[<>!+\-*]|::/y],
  ["text", /[A-Za-z_][A-Za-z0-9_]*/y],
  ["text", /\s+|./y],
];

export function tokenizeCedar(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    for (const [kind, re] of RULES) {
      re.lastIndex = i;
      const m = re.exec(src);
      if (!m || m[0].length === 0) continue;
      let k: TokenKind = kind;
      if (kind === "text" && KEYWORDS.has(m[0])) k = "keyword";
      else if (kind === "text" && SCOPE.has(m[0])) k = "scope";
      const last = out[out.length - 1];
      if (k === "text" && last?.kind === "text") last.text += m[0];
      else out.push({ kind: k, text: m[0] });
      i += m[0].length;
      break;
    }
  }
  return out;
}
