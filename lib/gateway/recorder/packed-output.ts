import { deflateRawSync, inflateRawSync, constants } from "node:zlib";

/**
 * The storage encoding of bulk terminal output. A `term.o` event of at least PACK_MIN bytes is
 * stored as `{ ch, z, n }`: the bytes deflated (raw DEFLATE, level 1) and base64'd, and their
 * length. Readers never see it: every query that returns session events unpacks `z` back into
 * `d` (UTF-8 text without NUL) or `b64` (anything else), so TERMINAL.md's format is what the
 * console, the API and exports get, byte for byte.
 *
 * Why: terminal output is mostly text and compresses 5–100×; jsonb ingestion is the gateway's
 * bottleneck on the embedded database (measured on PGlite: ~40 MB/s of jsonb text on the
 * gateway's own thread, against ~250 MB/s for ssh itself on loopback), and it is what a long
 * recording costs on disk. Output that does not compress (compressed, encrypted, random) is
 * stored as before, and the channel stops trying for a while so it does not pay for deflate.
 */
export const PACK_MIN = 8 * 1024;
/** stored packed only below this fraction of the original size */
const WORTH_IT = 0.75;
/** after output that did not compress, skip this many bytes before trying again */
const SKIP_AFTER_MISS = 1 << 20;
/** inflated size limit per event: the recorder never writes more than this into one event */
const MAX_UNPACKED = 4 << 20;

export class OutputPacker {
  private skip = 0;

  /** The packed payload fields for `bytes`, or null to store them as text/base64. */
  pack(bytes: Buffer): { z: string; n: number } | null {
    if (bytes.length < PACK_MIN) return null;
    if (this.skip > 0) {
      this.skip -= bytes.length;
      return null;
    }
    const z = deflateRawSync(bytes, { level: 1, strategy: constants.Z_DEFAULT_STRATEGY });
    if (z.length > bytes.length * WORTH_IT) {
      this.skip = SKIP_AFTER_MISS;
      return null;
    }
    return { z: z.toString("base64"), n: bytes.length };
  }
}

/**
 * The event as TERMINAL.md describes it: a packed `term.o` payload becomes `d` or `b64`. Other
 * events pass through untouched. A payload that cannot be unpacked (damaged row) keeps its other
 * fields and gets `error`, rather than failing the whole page of events.
 */
export function unpackPayload(kind: string, payload: Record<string, unknown>): Record<string, unknown> {
  if (kind !== "term.o" || typeof payload.z !== "string") return payload;
  const { z, n, ...rest } = payload;
  let bytes: Buffer;
  try {
    bytes = inflateRawSync(Buffer.from(z, "base64"), { maxOutputLength: MAX_UNPACKED });
  } catch (err) {
    return { ...rest, error: `damaged packed output: ${(err as Error).message}` };
  }
  if (typeof n === "number" && bytes.length !== n) return { ...rest, error: `damaged packed output: ${bytes.length} of ${n} bytes` };
  return { ...rest, ...asTextOrBase64(bytes) };
}

export function unpackEvents<T extends { kind: string; payload: unknown }>(rows: T[]): T[] {
  for (const row of rows) row.payload = unpackPayload(row.kind, row.payload as Record<string, unknown>);
  return rows;
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
