/**
 * Shell commands that print exact bytes through a remote shell, for the terminal-masking suites.
 */

/** `printf` of `text` with every byte outside printable ASCII (and `'`, `\`, `%`) as an octal escape: the command line stays ASCII. */
export const printf = (text: string) =>
  `printf '${[...Buffer.from(text, "utf8")].map((b) => (b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c && b !== 0x25 ? String.fromCharCode(b) : `\\${b.toString(8).padStart(3, "0")}`)).join("")}'`;

/**
 * Chunks printed one after the other, a few ms apart: separate channel writes. The suites using it
 * start their Gatehouse waiting 1 s, not 30 ms, before letting held output out
 * (GATEHOUSE_SSH_MASK_IDLE_MS): a loaded machine once took longer than 30 ms between two chunks.
 */
export const chunked = (chunks: string[]) => chunks.map(printf).join("; sleep 0.005; ");
