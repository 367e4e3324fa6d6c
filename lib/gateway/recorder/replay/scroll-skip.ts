/**
 * Keyframes need the screen, not every line that ever scrolled past it. Log-like output (text,
 * CR, LF, TAB, BEL and colour changes — most of a 100 MB recording) is cut to its last lines
 * before it reaches the emulator, which makes the keyframe pass several times faster.
 *
 * Why the screen comes out identical: the cut is right after a CRLF with at least 2·rows more
 * CRLFs behind it. Whatever row the cursor is on when the kept tail starts, after at most
 * rows-1 line feeds it is on the bottom row, and from then on every line feed scrolls a fresh
 * row in; the ≥ rows further ones replace every visible row with rows created and written by the
 * tail alone — the same rows, written the same way, as with the whole chunk. The colour (SGR)
 * changes of the dropped part are kept, in order, so the pen — and the background of the rows
 * scrolled in — is the same at every point of the tail. Nothing else in plain output changes
 * terminal state. It only holds with the scroll region at full screen, which the caller checks
 * (ScreenModel tracks it); reverse-wraparound BS, VT/FF and every other escape sequence make a
 * chunk non-plain, and it is then written whole.
 */

/** C0 controls other than BEL, TAB, LF, CR and ESC; and DEL. */
const DISALLOWED = /[\x00-\x06\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]/;
/** ESC that does not start an SGR sequence. */
const NON_SGR_ESCAPE = /\x1b(?!\[[0-9;:]*m)/;
const SGR = /\x1b\[[0-9;:]*m/g;

export function isPlainOutput(chunk: string): boolean {
  return !DISALLOWED.test(chunk) && !NON_SGR_ESCAPE.test(chunk);
}

/** Below this, cutting saves less than it costs. */
const MIN_LENGTH = 4096;

/** `chunk` (plain) as it may be written instead, for a screen of `rows` rows with a full scroll region. */
export function dropScrolledOff(chunk: string, rows: number): string {
  if (chunk.length < MIN_LENGTH) return chunk;
  const keep = 2 * rows + 2;
  let cut = chunk.length;
  for (let n = 0; n < keep; n++) {
    cut = chunk.lastIndexOf("\r\n", cut - 1);
    if (cut <= 0) return chunk;
  }
  cut += 2;
  if (cut < MIN_LENGTH / 2) return chunk;
  const sgr = chunk.slice(0, cut).match(SGR);
  return (sgr ? sgr.join("") : "") + chunk.slice(cut);
}
