import { ProtocolError, SqlState } from "./errors";

/**
 * Bounds-checked cursor over one message body, and the matching writer. Every read checks the
 * remaining length first, so a hostile length or count turns into a ProtocolError, never a
 * RangeError or an oversized allocation.
 */

// Strict decoding: a replacement character would let the gateway classify or mask different
// text from what the server executes. PostgreSQL itself rejects invalid UTF-8 (SQLSTATE 22021).
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export class BodyReader {
  private off = 0;

  constructor(
    private readonly buf: Buffer,
    private readonly what: string,
  ) {}

  get remaining(): number {
    return this.buf.length - this.off;
  }

  private need(n: number): void {
    if (n > this.buf.length - this.off) throw this.malformed();
  }

  malformed(detail = "truncated"): ProtocolError {
    return new ProtocolError(`invalid ${this.what} message format (${detail})`);
  }

  byte(): number {
    this.need(1);
    return this.buf[this.off++];
  }

  int16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.off);
    this.off += 2;
    return v;
  }

  /** Counts are sent as Int16 but PostgreSQL reads them unsigned (0..65535). */
  uint16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.off);
    this.off += 2;
    return v;
  }

  int32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.off);
    this.off += 4;
    return v;
  }

  /** OIDs are unsigned 32-bit. */
  uint32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.off);
    this.off += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const end = this.buf.indexOf(0, this.off);
    if (end < 0) throw this.malformed("unterminated string");
    const s = decodeUtf8(this.buf.subarray(this.off, end));
    this.off = end + 1;
    return s;
  }

  /** n bytes as a zero-copy view. */
  bytes(n: number): Buffer {
    if (n < 0) throw this.malformed("negative length");
    this.need(n);
    const b = this.buf.subarray(this.off, this.off + n);
    this.off += n;
    return b;
  }

  rest(): Buffer {
    return this.bytes(this.remaining);
  }

  /** Int32 length then bytes; -1 is SQL NULL, any other negative length is malformed. */
  nullableBytes(): Buffer | null {
    const len = this.int32();
    if (len === -1) return null;
    return this.bytes(len);
  }

  /**
   * Int32 length then that many bytes, skipped: returns the length (-1 for SQL NULL); the bytes
   * are the `length` before `offset`. nullableBytes without the view, for the masked-row path.
   */
  nullableLength(): number {
    const len = this.int32();
    if (len === -1) return -1;
    if (len < 0) throw this.malformed("negative length");
    this.need(len);
    this.off += len;
    return len;
  }

  /** The next byte to read. */
  get offset(): number {
    return this.off;
  }

  /**
   * Guards a count read from the wire before an array of that size is built: each element
   * needs at least `minBytes`, so a count the body cannot hold is rejected up front.
   */
  count(n: number, minBytes: number): number {
    if (n < 0 || n * minBytes > this.remaining) throw this.malformed("count exceeds message");
    return n;
  }

  /** PostgreSQL's pq_getmsgend: trailing bytes mean the peer and we disagree on the format. */
  end(): void {
    if (this.off !== this.buf.length) throw this.malformed("trailing bytes");
  }
}

export function decodeUtf8(b: Buffer): string {
  try {
    return utf8.decode(b);
  } catch {
    throw new ProtocolError('invalid byte sequence for encoding "UTF8"', SqlState.invalidByteSequence);
  }
}

/**
 * Growable writer for one message. The header (type byte + length) is reserved up front and
 * filled in by finish(), so callers write fields in protocol order without sizing first.
 */
export class MessageWriter {
  private buf: Buffer;
  private off: number;

  constructor(
    private readonly tag: string | null,
    sizeHint = 64,
  ) {
    this.off = tag === null ? 4 : 5;
    this.buf = Buffer.allocUnsafe(Math.max(sizeHint, 16) + this.off);
  }

  private ensure(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(next, 0, 0, this.off);
    this.buf = next;
  }

  byte(v: number): this {
    this.ensure(1);
    this.buf[this.off++] = v & 0xff;
    return this;
  }

  int16(v: number): this {
    this.ensure(2);
    this.buf.writeInt16BE(v, this.off);
    this.off += 2;
    return this;
  }

  uint16(v: number): this {
    this.ensure(2);
    this.buf.writeUInt16BE(v, this.off);
    this.off += 2;
    return this;
  }

  int32(v: number): this {
    this.ensure(4);
    this.buf.writeInt32BE(v, this.off);
    this.off += 4;
    return this;
  }

  uint32(v: number): this {
    this.ensure(4);
    this.buf.writeUInt32BE(v, this.off);
    this.off += 4;
    return this;
  }

  /**
   * A C string cannot carry NUL: an embedded one would end the field early and shift every
   * following field — an injection into our own messages. Refuse instead of truncating.
   */
  cstring(s: string): this {
    if (s.includes("\0")) throw new ProtocolError("string contains a NUL byte", SqlState.invalidByteSequence);
    const n = Buffer.byteLength(s);
    this.ensure(n + 1);
    this.off += this.buf.write(s, this.off, "utf8");
    this.buf[this.off++] = 0;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.off);
    this.off += b.length;
    return this;
  }

  nullableBytes(b: Uint8Array | null): this {
    if (b === null) return this.int32(-1);
    return this.int32(b.length).bytes(b);
  }

  /** u16 count followed by the elements (format codes, OIDs). */
  int16List(values: readonly number[]): this {
    this.uint16(checkCount(values.length));
    for (const v of values) this.int16(v);
    return this;
  }

  finish(): Buffer {
    if (this.tag === null) {
      this.buf.writeInt32BE(this.off, 0);
    } else {
      this.buf[0] = this.tag.charCodeAt(0);
      this.buf.writeInt32BE(this.off - 1, 1);
    }
    return this.buf.subarray(0, this.off);
  }
}

/** Counts go out as 16-bit; a larger list cannot be expressed and must not silently wrap. */
export function checkCount(n: number): number {
  if (n > 0xffff) throw new ProtocolError(`too many items for one message (${n})`);
  return n;
}
