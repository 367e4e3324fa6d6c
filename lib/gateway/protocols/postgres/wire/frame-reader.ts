import { ProtocolError } from "./errors";

/**
 * Incremental framer for PostgreSQL v3 byte streams. TCP delivers arbitrary segments: one
 * message may span many chunks and one chunk may hold many messages. The reader keeps the
 * chunks it was given and hands out frames as zero-copy views when a frame lies inside one
 * chunk; it copies only when a frame straddles chunks.
 *
 * Two framings exist. Before the StartupMessage (and around SSLRequest/GSSENCRequest) packets
 * are untyped: Int32 length (including itself) + Int32 code + payload. Afterwards every message
 * is typed: Byte1 tag + Int32 length (including itself, not the tag). A reader in "startup"
 * mode switches itself to "typed" after a 3.x StartupMessage; backend streams are always typed.
 *
 * Lengths are validated from the header alone, before any byte of the body is waited for or
 * allocated: a hostile "length = 2 GiB" costs us nothing. After a ProtocolError the reader is
 * poisoned (the stream has lost framing; the only safe thing is to close the connection).
 */

export const STARTUP_CODES = {
  /** 3.0 in the high/low 16 bits */
  protocol30: 196608,
  sslRequest: 80877103,
  gssEncRequest: 80877104,
  cancelRequest: 80877102,
} as const;

/** Tags a client may send after startup, and tags a server may send. */
export const FRONTEND_TAGS = "QPBDECSHXdcfFp";
export const BACKEND_TAGS = "RSKZTDCENAt123nsIGHWdcvV";

/** PostgreSQL's MAX_STARTUP_PACKET_LENGTH. */
export const MAX_STARTUP_PACKET = 10_000;
/** PostgreSQL accepts 1 GiB messages; the gateway buffers whole messages, so it allows less. */
export const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;

export interface Frame {
  /** the Byte1 tag as a character ("Q", "D", ...); "" for untyped startup-phase packets */
  tag: string;
  /** bytes after the length word; for untyped packets this starts with the Int32 code */
  body: Buffer;
  /** the whole frame as received, for relaying unchanged */
  raw: Buffer;
}

export type FrameMode = "startup" | "typed";

export interface FrameReaderOptions {
  /** start in untyped startup mode (the client side of a gateway listener) */
  startup?: boolean;
  /** largest typed message accepted, header included (default 64 MiB) */
  maxMessageSize?: number;
  /** largest startup-phase packet (default 10000, as PostgreSQL) */
  maxStartupSize?: number;
  /**
   * Refuse any other tag as soon as its first byte arrives, as the server does, instead of
   * waiting for the body of a message that cannot be valid (e.g. FRONTEND_TAGS). Default: any.
   */
  allowedTags?: string;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  /** offset into chunks[0] of the first unread byte */
  private headOffset = 0;
  private size = 0;
  private failure: ProtocolError | null = null;
  private currentMode: FrameMode;
  readonly maxMessageSize: number;
  readonly maxStartupSize: number;
  private readonly allowed: Uint8Array | null;

  constructor(opts: FrameReaderOptions = {}) {
    this.currentMode = opts.startup ? "startup" : "typed";
    this.maxMessageSize = opts.maxMessageSize ?? DEFAULT_MAX_MESSAGE;
    this.maxStartupSize = opts.maxStartupSize ?? MAX_STARTUP_PACKET;
    this.allowed = null;
    if (opts.allowedTags !== undefined) {
      this.allowed = new Uint8Array(256);
      for (const c of opts.allowedTags) this.allowed[c.charCodeAt(0) & 0xff] = 1;
    }
  }

  get mode(): FrameMode {
    return this.currentMode;
  }

  /** Force a mode, e.g. back to "startup" after an SSLRequest was answered. */
  setMode(mode: FrameMode): void {
    this.currentMode = mode;
  }

  /**
   * Bytes received but not yet framed. After answering SSLRequest/GSSENCRequest this must be 0:
   * bytes that arrived before the TLS handshake were not encrypted, and accepting them is the
   * buffer-injection bug PostgreSQL fixed as CVE-2021-23214 (server) / CVE-2021-23222 (client).
   */
  get buffered(): number {
    return this.size;
  }

  push(chunk: Buffer): void {
    if (this.failure) throw this.failure;
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.size += chunk.length;
  }

  /** One raw byte, for the single-byte 'S'/'N' answer to SSLRequest/GSSENCRequest. */
  readByte(): number | null {
    if (this.failure) throw this.failure;
    if (this.size < 1) return null;
    const b = this.byteAt(0);
    this.consume(1);
    return b;
  }

  next(): Frame | null {
    if (this.failure) throw this.failure;
    try {
      return this.currentMode === "startup" ? this.nextStartup() : this.nextTyped();
    } catch (err) {
      if (err instanceof ProtocolError) this.fail(err);
      throw err;
    }
  }

  private fail(err: ProtocolError): void {
    this.failure = err;
    this.chunks = [];
    this.size = 0;
    this.headOffset = 0;
  }

  private nextStartup(): Frame | null {
    if (this.size < 4) return null;
    const len = this.int32At(0);
    // 8 = length + code; anything shorter cannot even say what it is.
    if (len < 8 || len > this.maxStartupSize) throw new ProtocolError("invalid length of startup packet");
    if (this.size < len) return null;
    const raw = this.take(len);
    const code = raw.readInt32BE(4);
    if (code >>> 16 === 3) this.currentMode = "typed";
    return { tag: "", body: raw.subarray(4), raw };
  }

  private nextTyped(): Frame | null {
    if (this.size < 1) return null;
    const tag = this.byteAt(0);
    if (this.allowed && !this.allowed[tag]) throw new ProtocolError(`invalid message type ${tag}`);
    if (this.size < 5) return null;
    // Read signed: a "wrapped" length such as 0xFFFFFFF0 becomes negative and is refused here.
    const len = this.int32At(1);
    if (len < 4) throw new ProtocolError(`invalid message length ${len}`);
    // The size itself stays out of the message: for an upstream row it would tell the client the
    // length of a value masking withholds (`repeat('x', ssn::int)`).
    if (len + 1 > this.maxMessageSize) throw new ProtocolError(`a message exceeds the limit of ${this.maxMessageSize} bytes`);
    if (this.size < len + 1) return null;
    const raw = this.take(len + 1);
    return { tag: String.fromCharCode(tag), body: raw.subarray(5), raw };
  }

  private byteAt(i: number): number {
    let pos = this.headOffset + i;
    for (const c of this.chunks) {
      if (pos < c.length) return c[pos];
      pos -= c.length;
    }
    throw new RangeError("byteAt past end"); // unreachable: callers check size first
  }

  private int32At(i: number): number {
    const first = this.chunks[0];
    if (first.length - this.headOffset >= i + 4) return first.readInt32BE(this.headOffset + i);
    return ((this.byteAt(i) << 24) | (this.byteAt(i + 1) << 16) | (this.byteAt(i + 2) << 8) | this.byteAt(i + 3)) | 0;
  }

  /** n bytes off the front: a view when they sit in one chunk, one copy otherwise. */
  private take(n: number): Buffer {
    const first = this.chunks[0];
    if (first.length - this.headOffset >= n) {
      const view = first.subarray(this.headOffset, this.headOffset + n);
      this.consume(n);
      return view;
    }
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    let off = this.headOffset;
    for (const c of this.chunks) {
      const part = Math.min(c.length - off, n - written);
      c.copy(out, written, off, off + part);
      written += part;
      off = 0;
      if (written === n) break;
    }
    this.consume(n);
    return out;
  }

  private consume(n: number): void {
    this.size -= n;
    let left = n;
    let drop = 0;
    while (left > 0) {
      const avail = this.chunks[drop].length - this.headOffset;
      if (left < avail) {
        this.headOffset += left;
        break;
      }
      left -= avail;
      this.headOffset = 0;
      drop++;
    }
    if (drop > 0) this.chunks.splice(0, drop);
  }
}
