/**
 * Text a requester chose, shown to the person who decides on it (a held statement, a reason):
 * bidirectional controls reorder what is displayed ("Trojan Source": after U+202E a statement
 * reads differently from how it runs), and zero-width characters hide what is there ("users"
 * and "us\u200bers" look alike). Each is shown as a visible tag instead, so the approver reads
 * the characters in the order the server sees them. Display only: the stored and bound text is
 * unchanged.
 */
const INVISIBLE = /[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]/g;

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

/** Control characters but tab and newline: what a terminal acts on (ESC, CR, BS, C1 CSI...). */
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/**
 * For text printed into a terminal (the CLI): as revealInvisible, and control characters too. A
 * carriage return, an erase-line sequence or a cursor move in a value the server holds (a reason,
 * a statement, a client's application name) would otherwise overwrite what the reader sees.
 */
export function revealForTerminal(text: string): string {
  return revealInvisible(text).replace(CONTROL, tag);
}
