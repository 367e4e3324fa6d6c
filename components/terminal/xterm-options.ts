import type { ITerminalOptions } from "@xterm/xterm";
import { clampScreenSize } from "@/lib/terminal/count-clamp";

/** Shared look of the console's terminals (live view and browser terminal). */
export const TERMINAL_OPTIONS: ITerminalOptions = {
  fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace',
  fontSize: 13,
  lineHeight: 1.1,
  scrollback: 5_000,
  theme: { background: "#0b1020", foreground: "#e2e8f0", cursor: "#e2e8f0", selectionBackground: "#33507a" },
  allowProposedApi: false,
  // Terminal output is untrusted (a recording, a remote host): an OSC 8 hyperlink opens only
  // after a click and a confirmation, only for http(s) (never javascript: or data:), and without
  // giving the new page a handle on the console (noopener). xterm.js has no OSC 52, so nothing
  // printed can write to the clipboard.
  linkHandler: {
    activate(_event, uri) {
      if (!/^https?:\/\//i.test(uri)) return;
      if (window.confirm(`Open this link printed by the terminal?\n\n${uri}`)) window.open(uri, "_blank", "noopener,noreferrer");
    },
  },
};

/**
 * The pty size as a viewer terminal's cols/rows. Clamped so a hostile `term.r` cannot make the
 * browser allocate a huge buffer.
 */
export function clampSize(cols: number, rows: number) {
  return clampScreenSize(cols, rows);
}
