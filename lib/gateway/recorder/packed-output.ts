import { deflateRawSync, inflateRawSync, constants } from "node:zlib";

/**
 * The storage encoding of bulk terminal output. A `term.o` event of at least PACK_MIN bytes is
 * stored with its bytes in the `data` (bytea) column and `{ ch, n, bin }` in `payload`:
 * `bin: "z"` when the bytes are raw-DEFLATEd (level 1), `"raw"` when they did not compress;
 * `n` = their length. Readers never see it: every query that returns session events unpacks
 * the row back into `d` (UTF-8 text without NUL) or `b64` (anything else), so TERMINAL.md's
 * format is what the console, the API and exports get, byte for byte.
 *
 * Why: terminal output is mostly text and compresses 5–100×, and bytes cost the database far
 * less than the same bytes as base64 inside jsonb (measured on PGlite: ~150 MB/s of binary
 * bytea against ~35 MB/s of base64 jsonb). Output that does not compress (compressed,
 * encrypted, random) is stored raw, and the channel stops trying for a while so it does not pay
 * for deflate. Rows written before bytea storage carry `{ z: <base64>, n }` in `payload`; they
 * are unpacked the same way.
 */
export const PACK_MIN = 8 * 1024;
/** stored deflated only below this fraction of the original size */
const WORTH_IT = 0.75;
/** bytes deflated to decide whether a larger chunk is worth deflating */
const PROBE = 4096;
/** after output that did not compress, skip this many bytes before trying again */
const SKIP_AFTER_MISS = 1 << 20;
/** inflated size limit per event: the recorder never writes more than this into one event */
const MAX_UNPACKED = 4 << 20;

export interface Packed {
  bin: "z" | "raw";
  data: Buffer;
}

export class OutputPacker {
  private skip = 0;

  /** The stored form of `bytes` (at least PACK_MIN of them). */
  pack(bytes: Buffer): Packed {
    if (this.skip > 0) {
      this.skip -= bytes.length;
      return { bin: "raw", data: bytes };
    }
    // A sample first: deflating a whole chunk that does not compress costs more than relaying it.
    if (bytes.length >= 4 * PROBE && deflateRawSync(bytes.subarray(0, PROBE), { level: 1 }).length > PROBE * WORTH_IT) return this.missed(bytes);
    const z = deflateRawSync(bytes, { level: 1, strategy: constants.Z_DEFAULT_STRATEGY });
    return z.length > bytes.length * WORTH_IT ? this.missed(bytes) : { bin: "z", data: z };
  }

  private missed(bytes: Buffer): Packed {
    this.skip = SKIP_AFTER_MISS;
    return { bin: "raw", data: bytes };
  }
}

/**
 * The event as TERMINAL.md describes it: a packed `term.o` row becomes `d` or `b64`. Other
 * events pass through untouched. A payload that cannot be unpacked (damaged row) keeps its other
 * fields and gets `error`, rather than failing the whole page of events.
 */
export function unpackPayload(kind: string, payload: Record<string, unknown>, data?: Buffer | Uint8Array | null): Record<string, unknown> {
  if (kind !== "term.o") return payload;
  const { z, n, bin, ...rest } = payload;
  let stored: Buffer;
  let deflated: boolean;
  if (data != null) {
    stored = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    deflated = bin === "z";
  } else if (typeof z === "string") {
    stored = Buffer.from(z, "base64");
    deflated = true;
  } else return payload;
  let bytes: Buffer;
  try {
    bytes = deflated ? inflateRawSync(stored, { maxOutputLength: MAX_UNPACKED }) : stored;
  } catch (err) {
    return { ...rest, error: `damaged packed output: ${(err as Error).message}` };
  }
  if (typeof n === "number" && bytes.length !== n) return { ...rest, error: `damaged packed output: ${bytes.length} of ${n} bytes` };
  return { ...rest, ...asTextOrBase64(bytes) };
}

/** Rows as read with the `data` column: unpacked, and `data` dropped (it is storage only). */
export function unpackEvents<T extends { kind: string; payload: unknown; data?: Buffer | Uint8Array | null }>(rows: T[]): Omit<T, "data">[] {
  return rows.map(({ data, ...row }) => ({ ...row, payload: unpackPayload(row.kind, row.payload as Record<string, unknown>, data) }));
}

const STRICT = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** `d` for UTF-8 text without NUL (what jsonb can hold), `b64` for anything else. */
export function asTextOrBase64(bytes: Buffer): { d: string } | { b64: string } {
  if (!bytes.includes(0)) {
    try {
      return { d: STRICT.decode(bytes) };
    } catch {
      // not UTF-8: base64 below
    }
  }
  return { b64: bytes.toString("base64") };
}
