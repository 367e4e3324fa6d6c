import { createHash, hash } from "node:crypto";

/**
 * The digest that seals a session's recording in the keyed audit log (`session.sealed`): a hash
 * chain over its stored events in seq order, each link covering the event's seq, time, kind,
 * payload (jsonb's own text, which does not change while the row does not) and `data` bytes as
 * stored (packed bulk output is hashed packed: no inflating to seal or verify).
 *
 * Scheme v2 (every seal since) links each payload's canonical JSON (keys sorted, no spacing) rather
 * than jsonb's text: the recorder computes the same chain as it stores the events (`recorded`
 * below) from the JSON it sent, which is jsonb's text only up to key order, spacing and number
 * spelling. A session is sealed with that chain, so an event edited, removed or added in the
 * database while the session was live differs from its seal as much as one edited afterwards.
 * Seals of scheme v1 (jsonb's text, read back at the end) still verify as they were written.
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
  /** `payload` is known to be canonical JSON already (serialize.ts wrote it): v2 chains it as it is */
  canonical?: boolean;
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
  scheme?: RecordingScheme;
}

export type RecordingScheme = "sha256-chain-v1" | "sha256-chain-v2";
const CURRENT_SCHEME: RecordingScheme = "sha256-chain-v2";

const MAX_MARKS = 64;
/** One buffer for every chain in the process (add() is synchronous); a larger event gets its own. */
const SHARED_LINK_BYTES = 64 * 1024;
let sharedLink = Buffer.allocUnsafe(4096);

function linkBuffer(room: number): Buffer {
  if (room > SHARED_LINK_BYTES) return Buffer.allocUnsafe(room);
  if (sharedLink.length < room) sharedLink = Buffer.allocUnsafe(SHARED_LINK_BYTES);
  return sharedLink;
}

const GENESIS = Buffer.alloc(32);

export class RecordingDigest {
  private head: Buffer = GENESIS;
  private count = 0;
  private lastSeq = 0;
  private marks: string[] = [];

  /** `every`: a verification takes marks at the seal's interval from the start */
  constructor(
    private every = 1,
    readonly scheme: RecordingScheme = CURRENT_SCHEME,
  ) {}

  /** `e.payload`: the JSON as sent to the database or as jsonb gives it back; both chain alike in v2 */
  add(e: StoredEvent): string | null {
    const payload = this.scheme === "sha256-chain-v1" || e.canonical ? e.payload : canonicalPayload(e.payload);
    // head | seq, time, kind length | kind | payload length | payload | data length (+1; 0: none)
    const room = 32 + 16 + 4 + 4 + 3 * (e.kind.length + payload.length);
    const b = linkBuffer(room);
    this.head.copy(b, 0);
    b.writeUInt32BE(e.seq >>> 0, 32);
    b.writeDoubleBE(e.tMs, 36);
    const kindLength = b.write(e.kind, 48);
    b.writeUInt32BE(kindLength, 44);
    let o = 48 + kindLength;
    const payloadLength = b.write(payload, o + 4);
    b.writeUInt32BE(payloadLength, o);
    o += 4 + payloadLength;
    // absent data and empty data differ
    b.writeUInt32BE(e.data ? e.data.length + 1 : 0, o);
    o += 4;
    // one call for the usual event; bulk output is hashed where it lies, not copied
    this.head = e.data ? createHash("sha256").update(b.subarray(0, o)).update(e.data).digest() : hash("sha256", b.subarray(0, o), "buffer");
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
    return { digest: this.head.toString("hex"), events: this.count, lastSeq: this.lastSeq, every: this.every, marks: [...this.marks], scheme: this.scheme };
  }
}

/** One spelling of a JSON value: keys sorted, no spacing, numbers and strings as JSON.stringify writes them. */
export function canonicalPayload(json: string): string {
  return canonical(JSON.parse(json));
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export type RecordingCheck = { intact: true; events: number } | { intact: false; events: number; problem: string; afterSeq: number; upToSeq: number | null };

/**
 * Recomputes the chain over `events` (in seq order) and compares it with `seal`. The first
 * difference is placed between the last mark that still matches and the next one.
 */
export async function checkRecording(events: AsyncIterable<StoredEvent>, seal: RecordingSeal): Promise<RecordingCheck> {
  // a seal from before schemes were named is v1
  const d = new RecordingDigest(seal.every, seal.scheme ?? "sha256-chain-v1");
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
