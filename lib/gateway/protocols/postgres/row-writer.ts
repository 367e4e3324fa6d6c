import type { Masker } from "@/lib/gateway/masking";
import { maskCell, UNCHANGED, type FieldPlan } from "./masking";
import type { Frame } from "./wire";
import { BodyReader } from "./wire/codec";

/** Up to this many bytes are copied by hand: for a cell value a native copy's call costs more. */
const SHORT = 64;

/**
 * The masked DataRows of a run (masked-runs.ts, mask-worker.ts), written straight into one
 * buffer: each value is read where it lies in the received frame and masked through maskCell,
 * the bytes between the values that change are copied as they are, and the masked text is
 * encoded in place. No array, view or Buffer per row or value: on a large masked result those
 * allocations (and the collections they cause) cost more than the DataRow codec itself.
 * Byte for byte what maskRow and build.dataRow make (row-writer.test.ts).
 *
 * A frame that is not a well-formed DataRow throws, as parseBackendMessage does: the run is
 * not sent and the session ends.
 */
export class MaskedRowWriter {
  private buf: Buffer;
  private off = 0;
  /** values changed so far (masked, or withheld as NULL) */
  masked = 0;

  /** `sizeHint`: the bytes the rows arrived in (masked rows are rarely much longer) */
  constructor(
    private readonly plans: readonly FieldPlan[],
    private readonly masker: Masker,
    sizeHint: number,
  ) {
    // Unpooled: the worker transfers it to the relay's thread (mask-pool.ts unpooledConcat).
    this.buf = Buffer.allocUnsafeSlow(Math.max(256, sizeHint + (sizeHint >> 3)));
  }

  /** The rows written so far. */
  bytes(): Buffer {
    return this.buf.subarray(0, this.off);
  }

  row(f: Frame): void {
    if (f.tag !== "D") throw new Error(`expected DataRow, got '${f.tag}'`);
    const body = f.body;
    const r = new BodyReader(body, "backend 'D'");
    const n = r.count(r.uint16(), 4);
    this.ensure(5);
    const head = this.off;
    this.buf[head] = 0x44; // 'D'; the length is written once the row is
    this.off += 5;
    // body[from, …) is what still has to be copied: the count, then every value left as it was
    let from = 0;
    for (let i = 0; i < n; i++) {
      const at = r.offset;
      const len = r.nullableLength();
      if (len < 0) continue; // NULL stays NULL
      const m = maskCell(body, r.offset - len, r.offset, this.plans[i], this.masker);
      if (m === UNCHANGED) continue;
      this.copy(body, from, at);
      this.value(m);
      from = r.offset;
      this.masked++;
    }
    r.end();
    this.copy(body, from, body.length);
    this.buf.writeInt32BE(this.off - head - 1, head + 1);
  }

  private value(text: string | null): void {
    if (text === null) {
      this.ensure(4);
      this.off = this.buf.writeInt32BE(-1, this.off);
      return;
    }
    // a UTF-16 unit takes at most 3 bytes of UTF-8
    this.ensure(4 + text.length * 3);
    const buf = this.buf;
    const at = this.off + 4;
    const n = text.length;
    // Short ASCII text (a redaction, a hash token, a partial) by hand: Buffer.write's call costs more.
    let len = 0;
    if (n <= SHORT) {
      for (; len < n; len++) {
        const c = text.charCodeAt(len);
        if (c >= 0x80) break;
        buf[at + len] = c;
      }
    }
    if (len < n) len = buf.write(text, at, "utf8");
    buf.writeInt32BE(len, this.off);
    this.off = at + len;
  }

  private copy(from: Buffer, start: number, end: number): void {
    const n = end - start;
    if (n <= 0) return;
    this.ensure(n);
    const buf = this.buf;
    const at = this.off;
    if (n <= SHORT) for (let i = 0; i < n; i++) buf[at + i] = from[start + i];
    else from.copy(buf, at, start, end);
    this.off = at + n;
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }
}
