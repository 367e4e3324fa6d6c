/**
 * Chains of escape sequences too long for a stream to hold, clipped.
 *
 * The stream masker holds back at most `maxHold` characters. A control string is invisible on
 * screen however long it is (xterm and VTE swallow a 10 KB title to its terminator), so
 * "4111 1111 \e]0;<10 KB>\a1111 1111" shows one card, but the stream could not hold the value
 * before the string until the string ended, and let it out in two unmasked halves. So, in a
 * stream, the sequences of a chain (escapes.ts) get `budget` characters between them: the body
 * (payload, parameters) of the sequence that goes past it is cut there and the rest of its body
 * dropped, up to its terminator, which is kept (so the terminal still ends the string); later
 * sequences of the chain are dropped whole. What is dropped was never printed (a colour change
 * after a 1 KB title may be lost); the value around the chain is then held and masked whole.
 *
 * Clipping is idempotent, and a stream applies it to what it holds plus each new chunk: the kept
 * part of a clipped sequence stays held, so every later chunk of its body is dropped in turn.
 */
import { ESC_INCOMPLETE, controlStringBody, isEscapeStart, sequenceEnd } from "./escapes";

const ESC = 27;

/** `text` with every chain of sequences longer than `budget` characters clipped to about that (the same string when none is). */
export function clipSequenceChains(text: string, budget: number): string {
  const n = text.length;
  if (n <= budget) return text;
  let out = "";
  let copied = 0;
  let chainEnd = -1;
  let used = 0;
  /** the sequence before ended a string without a terminator: the next one cancelled it */
  let openString = false;
  for (let i = 0; i < n; ) {
    if (!isEscapeStart(text.charCodeAt(i))) {
      i++;
      continue;
    }
    const end = sequenceEnd(text, i);
    if (end !== ESC_INCOMPLETE && end <= i + 1) {
      i++; // a C1 control alone, or broken: a boundary
      continue;
    }
    if (i !== chainEnd) used = 0;
    const cancels = i === chainEnd && openString;
    const stop = end === ESC_INCOMPLETE ? n : end;
    // a cut-off string that ends in an ESC keeps it: the rest of ST, or the sequence that ends the string, is still to come
    const terminator = end === ESC_INCOMPLETE ? (text.charCodeAt(n - 1) === ESC && n - 1 > i ? 1 : 0) : terminatorLength(text, i, stop);
    const bodyEnd = stop - terminator;
    openString = terminator === 0 && controlStringBody(text, i) > 0;
    const keepUntil = i + budget - used;
    if (used >= budget) {
      // past the budget a sequence is dropped whole; of a cut-off one, the introducer is kept,
      // so that its rest in a later chunk is still read as its body (and then dropped whole).
      // One that ends a string before it (which has no terminator of its own) becomes ST, which
      // ends it as well: dropped, the string would go on over the text after it.
      out += text.slice(copied, end === ESC_INCOMPLETE ? bodyStart(text, i) : i);
      if (end === ESC_INCOMPLETE ? terminator === 1 : cancels) out += end === ESC_INCOMPLETE ? "\x1b" : "\x1b\\";
      copied = stop;
      openString = false; // gone, and what it cancelled has its ST
    } else if (keepUntil < bodyEnd) {
      // the introducer is always kept, so a later chunk is still read as this sequence's body
      const cut = Math.max(keepUntil, bodyStart(text, i));
      out += text.slice(copied, cut);
      copied = bodyEnd;
      used = budget;
    } else used += stop - i;
    if (end === ESC_INCOMPLETE) break;
    chainEnd = stop;
    i = stop;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** Where the body of the sequence at `i` starts: after ESC ']' (OSC…), ESC '[' (CSI), or the ESC / C1 introducer. */
function bodyStart(text: string, i: number): number {
  const body = controlStringBody(text, i);
  if (body > 0) return body;
  return text.charCodeAt(i) === ESC && text.charCodeAt(i + 1) === 0x5b ? i + 2 : i + 1;
}

/** The length of what ends the complete sequence [i, end): ST 2, BEL (OSC), C1 ST, CAN, SUB or a final byte 1, nothing for a string a new sequence cancelled. */
function terminatorLength(text: string, i: number, end: number): number {
  if (controlStringBody(text, i) < 0) return 1; // CSI or ESC sequence: its final byte
  const last = text.charCodeAt(end - 1);
  if (last === 0x5c && end - 2 > i && text.charCodeAt(end - 2) === ESC) return 2;
  if (last === 7) return text.charCodeAt(i) === 0x9d || text.charCodeAt(i + 1) === 0x5d ? 1 : 0; // BEL ends an OSC only
  return last === 0x9c || last === 0x18 || last === 0x1a ? 1 : 0;
}
