import { revealInvisible } from "../lib/util/reveal-invisible";
export { terminalSafeJson } from "../lib/util/terminal-safe-json";

/**
 * What the CLI prints comes largely from other people: a requester's reason and statement, a
 * client's application_name, token and connection names, server error messages that echo input.
 * Printed raw, an escape sequence in them runs in the reader's terminal: OSC 52 writes their
 * clipboard, a title set and read back (or a DECRQSS / device-attributes query) makes the terminal
 * type an answer into their shell, a CR or cursor move hides the rest of the line. So a human is
 * shown every control character as a visible `\xNN`, and bidirectional and zero-width characters
 * as tags (revealInvisible), keeping only newline and tab.
 */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

export function terminalSafe(text: string): string {
  return revealInvisible(text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`));
}
