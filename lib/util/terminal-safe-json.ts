import { INVISIBLE } from "./reveal-invisible";

/**
 * JSON text that is safe to print to a terminal and still parses to exactly the same value.
 * JSON.stringify escapes C0 controls but writes DEL, the C1 controls (U+009B is CSI to terminals
 * that decode UTF-8 C1), U+2028/U+2029 (some line readers split on them) and bidirectional or
 * zero-width characters as they are; here they become \u escapes. For everything Gatehouse
 * prints or streams that a person may view in a terminal: recording exports, the audit export,
 * the CLI's --json output.
 */
const UNSAFE = new RegExp(`[\\x7f-\\x9f\\u2028\\u2029]|${INVISIBLE.source}`, "g");

export function terminalSafeJson(json: string): string {
  return json.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}
