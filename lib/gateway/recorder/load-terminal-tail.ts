import type { Db } from "@/db/client";
import { sessionMaxSeq, terminalEventsBefore, terminalSizeBefore } from "@/db/queries/session-terminal";
import { outputBytes, TAIL_MAX_BYTES, terminalTail, type TerminalEventLike, type TerminalTail } from "./terminal-tail";

const PAGE = 500;

/**
 * The tail of one terminal channel as stored now, read backwards only as far as needed: until
 * the channel's start or until more than the cap of output, so joining a 100 MB session reads
 * about 1 MiB. `seq` is the session's highest stored seq (every channel and kind), so a viewer
 * that applies live events with a higher seq misses nothing and repeats nothing.
 */
export async function loadTerminalTail(db: Db, sessionId: string, ch: number, maxBytes = TAIL_MAX_BYTES): Promise<TerminalTail & { seq: number }> {
  const upTo = await sessionMaxSeq(db, sessionId);
  const window: TerminalEventLike[] = [];
  let bytes = 0;
  let before = upTo + 1;
  let complete = false;
  while (!complete && bytes <= maxBytes) {
    const page = await terminalEventsBefore(db, sessionId, ch, before, PAGE);
    for (const e of page) {
      window.push(e);
      if (e.kind === "term.o") bytes += outputBytes(e.payload)?.length ?? 0;
      if (e.kind === "term.start") {
        complete = true;
        break;
      }
    }
    if (page.length < PAGE) complete = true;
    else before = page[page.length - 1].seq;
  }
  window.reverse();
  const initialSize = complete || !window.length ? undefined : ((await terminalSizeBefore(db, sessionId, ch, window[0].seq)) ?? undefined);
  return { ...terminalTail(window, ch, { maxBytes, initialSize }), seq: upTo };
}
