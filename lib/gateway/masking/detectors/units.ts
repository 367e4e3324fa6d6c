/**
 * The scanner reads characters from a Uint16Array copy of the string instead of calling
 * `charCodeAt`: on V8 an indexed typed-array load is about twice as fast as `charCodeAt` in
 * these loops, and the native copy costs little (it runs at several GB/s).
 *
 * One buffer is reused across calls (the scanner is synchronous and never re-entered). Eight
 * zero code units follow the text, so detectors may peek a few characters past the end
 * without bounds checks: NUL belongs to no character class and ends every token.
 */
import { Buffer } from "node:buffer";
import { endianness } from "node:os";

const SENTINELS = 8;
/** Larger texts get a temporary buffer, so one huge HTTP body does not pin memory forever. */
const RETAIN_LIMIT = 1 << 20;
const LITTLE_ENDIAN = endianness() === "LE";
const NATIVE_COPY_MIN = 128;

let shared = new Uint16Array(16 * 1024);
let sharedBytes = Buffer.from(shared.buffer);

/** The code units of `text`, followed by SENTINELS zeros. Valid until the next call. */
export function codeUnits(text: string): Uint16Array {
  const n = text.length;
  let units = shared;
  let bytes = sharedBytes;
  if (n + SENTINELS > units.length) {
    units = new Uint16Array(Math.max(n + SENTINELS, units.length * 2));
    bytes = Buffer.from(units.buffer);
    if (units.length <= RETAIN_LIMIT) {
      shared = units;
      sharedBytes = bytes;
    }
  }
  if (n < NATIVE_COPY_MIN || !LITTLE_ENDIAN) {
    // For short cell values the native call costs more than copying by hand.
    for (let i = 0; i < n; i++) units[i] = text.charCodeAt(i);
  } else {
    // "utf16le" copies the string's UTF-16 code units as they are (lone surrogates included).
    bytes.write(text, 0, "utf16le");
  }
  for (let i = n; i < n + SENTINELS; i++) units[i] = 0;
  return units;
}
