/**
 * Line breaks at the terminal's wrap boundary. A program that wraps its own output to the
 * terminal's width (psql's wrapped format, `fold -w $COLUMNS`, many CLI tables) prints a line
 * break exactly where the terminal would have wrapped the row anyway: "…4111 1111 11" at the end
 * of a full row, "11 1111 1111…" at the start of the next. A reader sees one value over two rows,
 * just as with the terminal's own wrapping (no break in the bytes, so masked as one text). So on
 * a terminal whose width is known, a break (LF or CRLF) that ends a row of exactly that width
 * (or a multiple: rows the terminal wrapped itself), between two characters that can be part of
 * a value, is soft: masked as if it were not there.
 *
 * For masking, a soft break is replaced by an invisible format character (SOFT_LF, SOFT_CRLF),
 * which the folding pass drops (the parts join) and which survives where no match covers it;
 * those that survive are put back as the breaks they were. Text that already holds one of them
 * is masked without this (best effort, as before). Not covered: breaks elsewhere than at the
 * width (a value split by `fold -w 8` on a wider terminal, `column`): those are refused as
 * output transforms on exec (protocols/ssh/output-transforms.ts), and best effort in a shell.
 */
import { F_ENTITY, has } from "./detectors/chars";
import { isEscapeStart, sequenceEnd } from "./detectors/escapes";
import { foldsUnit } from "./detectors/fold";
import type { Masker } from "./types";

const SOFT_LF = "\u2063";
const SOFT_CRLF = "\u2064";
const TAB = 9;
const LF = 10;
const CR = 13;
const BS = 8;
const SPACE = 32;

/** The display column after `text`[0, end), which starts at column `col`: counted from its last line break. */
export function columnAfter(col: number, text: string, end: number): number {
  if (end === 0) return col;
  const nl = text.lastIndexOf("\n", end - 1);
  return nl < 0 ? advanceColumn(col, text, 0, end) : advanceColumn(0, text, nl + 1, end);
}

/** The display column after `text`[from, to) starting at column `col` (rows the terminal wraps itself included). */
export function advanceColumn(col: number, text: string, from = 0, to = text.length): number {
  for (let i = from; i < to; ) {
    const c = text.charCodeAt(i);
    if (isEscapeStart(c)) {
      const end = sequenceEnd(text, i);
      i = end > i ? end : end === -1 ? to : i + 1; // a sequence prints nothing
      continue;
    }
    if (c === LF || c === CR) col = 0;
    else if (c === TAB) col = (Math.floor(col / 8) + 1) * 8;
    else if (c === BS) col = Math.max(0, col - 1);
    else if (c >= SPACE && !(c >= 0xdc00 && c <= 0xdfff) && !(c >= 0x80 && isZeroWidth(text, i))) col += isWide(text.codePointAt(i)!) ? 2 : 1;
    i++;
  }
  return col;
}

function isZeroWidth(text: string, i: number): boolean {
  return /^[\p{Cf}\p{Mn}\p{Me}]$/u.test(text[i]);
}

/** East Asian wide and full-width characters, and the emoji blocks: two columns. */
function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) || (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd)
  );
}

/** A character that can be part of a value on the side of a break (a space only before it: a group separator). */
function valueSide(c: number, before: boolean): boolean {
  if (c < 128) return has(c, F_ENTITY) && (before || c !== SPACE);
  return foldsUnit(c) || /^\p{L}$/u.test(String.fromCharCode(c));
}

export interface Marked {
  text: string;
  /** index in `text` -> index in the original, for cuts: original = at + shift before it */
  softs: number[];
  /** the original lengths of the breaks at `softs` (1 or 2) */
  lengths: number[];
}

/**
 * `text`, starting at display column `col` on a terminal `columns` wide, with its soft breaks
 * replaced. A break at the very end is soft unless `final` (what follows is not known yet: the
 * stream holds it); null when the text holds a stand-in already, or nothing is soft.
 */
export function markSoftBreaks(text: string, col: number, columns: number, final: boolean): Marked | null {
  if (columns <= 0 || text.includes(SOFT_LF) || text.includes(SOFT_CRLF)) return null;
  let out = "";
  let last = 0;
  const softs: number[] = [];
  const lengths: number[] = [];
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", nl + 1)) {
    const crlf = nl > 0 && text.charCodeAt(nl - 1) === CR;
    const brk = crlf ? nl - 1 : nl;
    const next = nl + 1 < text.length ? text.charCodeAt(nl + 1) : -1;
    // the row's width only matters between value characters (most rows end otherwise)
    const candidate = brk > 0 && valueSide(text.charCodeAt(brk - 1), true) && (next < 0 ? !final : valueSide(next, false));
    if (candidate) col = advanceColumn(col, text, last, brk);
    const soft = candidate && col > 0 && col % columns === 0;
    if (soft) {
      out += text.slice(last, brk) + (crlf ? SOFT_CRLF : SOFT_LF);
      softs.push(out.length - 1);
      lengths.push(crlf ? 2 : 1);
    } else out += text.slice(last, nl + 1);
    last = nl + 1;
    col = 0;
  }
  if (!softs.length) return null;
  return { text: out + text.slice(last), softs, lengths };
}

/** The index in the original text of index `at` of a marked text. */
export function originalIndex(marked: Marked, at: number): number {
  let shift = 0;
  for (let k = 0; k < marked.softs.length && marked.softs[k] < at; k++) shift += marked.lengths[k] - 1;
  return at + shift;
}

/** Masked text with the surviving stand-ins put back as the breaks they were. */
export function restoreBreaks(masked: string): string {
  return masked.includes(SOFT_LF) || masked.includes(SOFT_CRLF) ? masked.replaceAll(SOFT_CRLF, "\r\n").replaceAll(SOFT_LF, "\n") : masked;
}

/** `text` masked as a terminal `columns` wide shows it, from column `col` (whole text: what the stream masker must equal). */
export function maskWrapped(masker: Masker, text: string, columns: number, col = 0): string {
  const marked = markSoftBreaks(text, col, columns, true);
  return marked ? restoreBreaks(masker.maskText(marked.text)) : masker.maskText(text);
}
