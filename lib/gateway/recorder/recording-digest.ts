import { createHash } from "node:crypto";

/**
 * The digest that seals a session's recording in the keyed audit log (`session.sealed`): a hash
 * chain over its stored events in seq order, each link covering the event's seq, time, kind,
 * payload (jsonb's own text, which does not change while the row does not) and `data` bytes as
 * stored (packed bulk output is hashed packed: no inflating to seal or verify).
 *
 * Marks (the chain's value every `every` events, at most MAX_MARKS of them, the interval doubling
 * as the recording grows) let a verification say between which events the recording first
 * differs, not only that it does; a recording of up to MAX_MARKS events names the event itself.
 */
export interface StoredEvent {
  seq: number;
  tMs: number;
  kind: string;
  /** the payload column as text */
  payload: string;
  data: Buffer | Uint8Array | null;
}

export interface RecordingSeal {
  /** hex sha256 chain head over every event */
  digest: string;
  events: number;
  lastSeq: number;
  every: number;
  /** `seq:head` after event number every, 2·every, … (head abbreviated to 32 hex digits) */
  marks: string[];
}

const MAX_MARKS = 64;
const GENESIS = Buffer.alloc(32);

export class RecordingDigest {
  private head: Buffer = GENESIS;
  private count = 0;
  private lastSeq = 0;
  private marks: string[] = [];

  /** `every`: a verification takes marks at the seal's interval from the start */
  constructor(private every = 1) {}

  add(e: StoredEvent): string | null {
    const h = createHash("sha256").update(this.head);
    const fixed = Buffer.allocUnsafe(16);
    fixed.writeUInt32BE(e.seq >>> 0, 0);
    fixed.writeDoubleBE(e.tMs, 4);
    const kind = Buffer.from(e.kind);
    const payload = Buffer.from(e.payload);
    fixed.writeUInt32BE(kind.length, 12);
    h.update(fixed).update(kind);
    h.update(lengthOf(payload.length)).update(payload);
    // absent data and empty data differ
    h.update(lengthOf(e.data ? e.data.length + 1 : 0));
    if (e.data) h.update(e.data);
    this.head = h.digest();
    this.count++;
    this.lastSeq = e.seq;
    if (this.count % this.every !== 0) return null;
    const mark = `${e.seq}:${this.head.toString("hex", 0, 16)}`;
    this.marks.push(mark);
    if (this.marks.length > MAX_MARKS) {
      this.every *= 2;
      this.marks = this.marks.filter((_, i) => i % 2 === 1);
    }
    return mark;
  }

  seal(): RecordingSeal {
    return { digest: this.head.toString("hex"), events: this.count, lastSeq: this.lastSeq, every: this.every, marks: [...this.marks] };
  }
}

function lengthOf(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n, 0);
  return b;
}

export type RecordingCheck = { intact: true; events: number } | { intact: false; events: number; problem: string; afterSeq: number; upToSeq: number | null };

/**
 * Recomputes the chain over `events` (in seq order) and compares it with `seal`. The first
 * difference is placed between the last mark that still matches and the next one.
 */
export async function checkRecording(events: AsyncIterable<StoredEvent>, seal: RecordingSeal): Promise<RecordingCheck> {
  const d = new RecordingDigest(seal.every);
  const expected = new Map<number, string>(seal.marks.map((m, i) => [(i + 1) * seal.every, m]));
  let n = 0;
  let goodSeq = 0;
  for await (const e of events) {
    n++;
    const mark = d.add(e);
    const want = expected.get(n);
    if (want !== undefined) {
      if (mark !== want) return { intact: false, events: n, afterSeq: goodSeq, upToSeq: Number(want.split(":")[0]), problem: `the recording differs from its seal between event seq ${goodSeq} and seq ${want.split(":")[0]} (an event was edited, removed or added there)` };
      goodSeq = e.seq;
    }
    if (n > seal.events) return { intact: false, events: n, afterSeq: seal.lastSeq, upToSeq: null, problem: `the recording has more events than were sealed (${seal.events}): events were added after seq ${seal.lastSeq}` };
  }
  const got = d.seal();
  if (n < seal.events) return { intact: false, events: n, afterSeq: goodSeq, upToSeq: seal.lastSeq, problem: `the recording has ${n} events, ${seal.events} were sealed: events after seq ${goodSeq} were removed or changed` };
  if (got.digest !== seal.digest) return { intact: false, events: n, afterSeq: goodSeq, upToSeq: seal.lastSeq, problem: `the recording differs from its seal after event seq ${goodSeq} (an event was edited, removed or added)` };
  return { intact: true, events: n };
}
