/**
 * Text a requester chose, shown to the person who decides on it (a held statement, a reason):
 * bidirectional controls reorder what is displayed ("Trojan Source": after U+202E a statement
 * reads differently from how it runs), and zero-width characters hide what is there ("users"
 * and "us\u200bers" look alike). Each is shown as a visible tag instead, so the approver reads
 * the characters in the order the server sees them. Display only: the stored and bound text is
 * unchanged.
 */
export const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

/** The first such character in `text`, with its 1-based line and column, or null. */
export function findInvisible(text: string): { codePoint: string; line: number; column: number } | null {
  const at = text.search(new RegExp(INVISIBLE.source));
  if (at < 0) return null;
  const before = text.slice(0, at);
  const line = before.split("\n").length;
  return { codePoint: `U+${text.charCodeAt(at).toString(16).toUpperCase().padStart(4, "0")}`, line, column: at - before.lastIndexOf("\n") };
}

const tag = (c: string) => `⟦U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟧`;

export function revealInvisible(text: string): string {
  return text.replace(INVISIBLE, tag);
}
