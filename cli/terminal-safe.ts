import { INVISIBLE, revealInvisible } from "../lib/util/reveal-invisible";

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

/**
 * JSON for stdout, which is often a terminal too: JSON.stringify escapes C0 controls but writes
 * DEL, the C1 controls (U+009B is CSI to many terminals) and invisible characters as they are.
 * As \u escapes they parse back to exactly the same text.
 */
const JSON_UNSAFE = new RegExp(`[\\x7f-\\x9f\\u2028\\u2029]|${INVISIBLE.source}`, "g");

export function terminalSafeJson(json: string): string {
  return json.replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
