/**
 * Line breaks that do not split a value: at the terminal's wrap boundary, and between digits.
 *
 * At the terminal's wrap boundary. A program that wraps its own output to the
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
 * is masked without this (best effort, as before).
 *
 * Between digits. A program can break a value anywhere else too: `fold -w 7`, `printf '%s\n'` of
 * its halves, one group per line, a pager or a narrow column. A reader still joins the parts, so
 * a break between two digits, with at most one number separator next to it, is soft too, at any
 * column and with no known width, when that separator is there ("123-" / "45-6789") or one of the
 * two rows holds nothing but number material ("4111 11" / "11 1111", "4111" / "1111"): rows of a
 * table or a log that happen to end and start with numbers are left alone. It only adds: the
 * scanner reads the text with the lines apart as well, so a value a line holds on its own is
 * found as before (scanner.ts keeps both). Not covered: letters (prose would run words together:
 * an email or a key broken over lines), and a number cut mid-row in prose by a fold narrower
 * than the terminal ("…card 4111 1111 1" / "111 1111 on…"; `fold` is refused on exec).
 */
import { F_ENTITY, has } from "./detectors/chars";
import { isEscapeStart, sequenceEnd } from "./detectors/escapes";
import { SOFT_CRLF, SOFT_LF, asciiOf, foldsUnit } from "./detectors/fold";
import type { Masker } from "./types";

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
  /**
   * index in `text` of the first stand-in that is soft only because the row after it is not
   * complete yet (it may turn out to hold more than a number's parts), or -1: a stream must not
   * emit the value before it on that guess
   */
  provisional: number;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** What may stand next to a break between the digits of one value: space, tab, "-._/,". */
function isNumberSeparator(c: number): boolean {
  return c === SPACE || c === TAB || c === 45 || c === 46 || c === 95 || c === 47 || c === 44;
}

const END = -2;

/**
 * From `p` stepping by `step`: the number of separators (0 or 1) before a digit, END at the end
 * of the text, else -1. A line break is passed only after a separator: a row holding just the
 * space between two groups (`fold -w 1`), never a blank line.
 */
function separatorsBeforeDigit(text: string, p: number, step: number): number {
  let seps = 0;
  let breaks = 0;
  for (; ; p += step) {
    if (p < 0) return -1;
    if (p >= text.length) return END;
    const c = asciiOf(text.charCodeAt(p));
    if (isDigit(c)) return seps;
    if (c === LF) {
      if (seps === 0 || ++breaks > 1) return -1;
    } else if (c !== CR && (!isNumberSeparator(c) || ++seps > 1)) return -1;
  }
}

/** What a row that only continues a number holds: digits, separators, "+()|:". */
function isNumberMaterial(c: number): boolean {
  return isDigit(c) || isNumberSeparator(c) || c === CR || c === 43 || c === 40 || c === 41 || c === 124 || c === 58;
}

const NO = 0;
const YES = 1;
/** the row reaches the start or end of the text (or its line break is the text's last character): not all known yet */
const OPEN = 2;

/** Whether the row from `p` (stepping by `step` to its line break) holds only number material: NO, YES or OPEN. */
function numberRow(text: string, p: number, step: number): number {
  for (; p >= 0 && p < text.length; p += step) {
    const c = asciiOf(text.charCodeAt(p));
    // a stream's last line break may be one it appended to read a trailing CR as CRLF
    if (c === LF) return p === text.length - 1 && step > 0 ? OPEN : YES;
    // a CR is the row's end only as part of CRLF (alone it moves back over the row)
    if (c === CR ? p + 1 < text.length && text.charCodeAt(p + 1) !== LF : !isNumberMaterial(c)) return NO;
  }
  return OPEN;
}

const HARD = 0;
const SOFT = 1;
/** soft on the guess that the rest of the row after it, not received yet, holds a number's parts only */
const SOFT_FOR_NOW = 2;

/**
 * Whether the break [brk, after) joins the parts of a number: it stands between two digits,
 * with at most one separator next to it ("4111 11" / "11 1111", "1111" / " 1111"), and either
 * that separator is there ("123-" / "45-6789") or one of the two rows holds nothing but the
 * number's parts (`fold -w 7`, halves or groups printed one per line). Rows of a table or a log
 * that end and start with numbers are not joined. At the very end of the text: whether it may
 * (not `final`). `openRow`: whether the row the text starts in held only number material before
 * it (true at a line start; a stream knows what it emitted of the row).
 */
function joinsDigits(text: string, brk: number, after: number, final: boolean, openRow: boolean): number {
  const left = separatorsBeforeDigit(text, brk - 1, -1);
  if (left < 0) return HARD;
  const right = separatorsBeforeDigit(text, after, 1);
  if (right === END) return final ? HARD : SOFT_FOR_NOW;
  if (right < 0 || left + right > 1) return HARD;
  if (left + right === 0) {
    const column = consecutiveNumbers(text, brk, after, final);
    if (column !== NO_OPINION) return column;
  }
  if (left + right === 1 && text.charCodeAt(brk - 1) !== LF && text.charCodeAt(after) !== CR) {
    if (isNumberSeparator(asciiOf(text.charCodeAt(brk - 1))) || isNumberSeparator(asciiOf(text.charCodeAt(after)))) return SOFT;
  }
  // the row after first: rows of a log or a table stop being number material soon after their start
  const rest = numberRow(text, after, 1);
  if (rest === YES || (rest === OPEN && final)) return SOFT;
  const before = numberRow(text, brk - 1, -1);
  if (before === YES || (before === OPEN && openRow)) return SOFT;
  return rest === OPEN ? SOFT_FOR_NOW : HARD;
}

const NO_OPINION = -1;
/** the longest row read as one number (Number is exact up to 2^53) */
const MAX_NUMBER_DIGITS = 15;

/**
 * Rows that hold one number each and follow one another as `seq`, line numbers, years or sorted
 * ids print them (three digits or more, no leading zero, the second 1 to 9 away from the first:
 * "2023" / "2024", "4000048" / "4000049"; the row before may end in its number after a space) are a column, not the parts of a value: HARD. A value's
 * parts are not so (its groups are equal, "1111" / "1111", or far apart, "4111" / "1111"; a part
 * may start with 0). SOFT_FOR_NOW while the row after is not complete; else NO_OPINION.
 */
function consecutiveNumbers(text: string, brk: number, after: number, final: boolean): number {
  let start = brk;
  while (start > 0 && isDigit(text.charCodeAt(start - 1))) start--;
  // (the row before may end in the number: "$ seq 20002 20004" / "20002")
  if (start > 0 && text.charCodeAt(start - 1) !== LF && text.charCodeAt(start - 1) !== SPACE) return NO_OPINION;
  let end = after;
  while (end < text.length && isDigit(text.charCodeAt(end))) end++;
  if (end === text.length && !final) return SOFT_FOR_NOW;
  if (end < text.length && text.charCodeAt(end) !== LF && text.charCodeAt(end) !== CR) return NO_OPINION;
  const a = numberOfRow(text, start, brk);
  const b = numberOfRow(text, after, end);
  if (a < 0 || b < 0) return NO_OPINION;
  const gap = Math.abs(a - b);
  return gap >= 1 && gap <= 9 ? HARD : NO_OPINION;
}

/** The number text[from, to) spells, or -1 when it is shorter than 3 digits, longer than 15, or starts with 0. */
function numberOfRow(text: string, from: number, to: number): number {
  if (to - from < 3 || to - from > MAX_NUMBER_DIGITS || text.charCodeAt(from) === 48) return -1;
  return Number(text.slice(from, to));
}

/**
 * `text`, starting at display column `col` on a terminal `columns` wide (0: not known), with its
 * soft breaks replaced. A break at the very end is soft unless `final` (what follows is not
 * known yet: the stream holds it); null when the text holds a stand-in already, or nothing is soft.
 */
export function markSoftBreaks(text: string, col: number, columns: number, final: boolean, openRow = true): Marked | null {
  if (text.includes(SOFT_LF) || text.includes(SOFT_CRLF)) return null;
  let out = "";
  let last = 0;
  /** text before this is in `out` (copied only at soft breaks: most texts have none) */
  let copied = 0;
  let provisional = -1;
  const softs: number[] = [];
  const lengths: number[] = [];
  for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n", nl + 1)) {
    const crlf = nl > 0 && text.charCodeAt(nl - 1) === CR;
    const brk = crlf ? nl - 1 : nl;
    const next = nl + 1 < text.length ? text.charCodeAt(nl + 1) : -1;
    // the row's width only matters between value characters (most rows end otherwise)
    const candidate = columns > 0 && brk > 0 && valueSide(text.charCodeAt(brk - 1), true) && (next < 0 ? !final : valueSide(next, false));
    if (candidate) col = advanceColumn(col, text, last, brk);
    const digits = joinsDigits(text, brk, nl + 1, final, openRow);
    const soft = (candidate && col > 0 && col % columns === 0) || digits !== HARD;
    if (soft) {
      if (digits === SOFT_FOR_NOW && provisional < 0) provisional = out.length + (brk - copied);
      out += text.slice(copied, brk) + (crlf ? SOFT_CRLF : SOFT_LF);
      softs.push(out.length - 1);
      lengths.push(crlf ? 2 : 1);
      copied = nl + 1;
    }
    last = nl + 1;
    col = 0;
  }
  if (!softs.length) return null;
  return { text: out + text.slice(copied), softs, lengths, provisional };
}

/**
 * Whether the row `text`[0, end) ends in holds only number material, counting what came before
 * `text` in that row as `openRow` (what a stream passes to markSoftBreaks for the text after it).
 */
export function numberRowAfter(openRow: boolean, text: string, end: number): boolean {
  const nl = end > 0 ? text.lastIndexOf("\n", end - 1) : -1;
  if (nl < 0 && !openRow) return false;
  for (let p = nl + 1; p < end; p++) {
    const c = asciiOf(text.charCodeAt(p));
    // as numberRow reads it: a CR not followed by its LF moves back over the row, which is no number then
    if (c === CR ? p + 1 >= end || text.charCodeAt(p + 1) !== LF : !isNumberMaterial(c)) return false;
  }
  return true;
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
