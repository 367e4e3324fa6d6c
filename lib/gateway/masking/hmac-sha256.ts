import { createHash } from "node:crypto";

/**
 * HMAC-SHA256 (RFC 2104, FIPS 180-4) under one fixed key, for the masking `hash` style, which
 * hashes every value of a masked column: 500k rows of emails are 500k HMACs. node:crypto's
 * createHmac costs ~2 µs a call here, most of it creating an OpenSSL context and running the key
 * schedule again for every value. Here the key's inner and outer pad blocks are compressed once
 * (the standard HMAC precomputation); a short value then costs two compressions and no
 * allocation. Equality with node:crypto is checked by a property test (hmac-sha256.test.ts).
 *
 * Only the hash of the whole message is computed (no streaming), which is all masking needs.
 */
export class HmacSha256 {
  private readonly inner = new Int32Array(8);
  private readonly outer = new Int32Array(8);
  private readonly state = new Int32Array(8);
  private readonly w = new Int32Array(64);
  /** UTF-8 of the message, then its padding; grows for long messages */
  private buf = new Uint8Array(256);

  constructor(key: Uint8Array) {
    const k = key.length > 64 ? createHash("sha256").update(key).digest() : key;
    const pad = new Uint8Array(64);
    for (const [target, byte] of [[this.inner, 0x36], [this.outer, 0x5c]] as const) {
      pad.fill(byte);
      for (let i = 0; i < k.length; i++) pad[i] = k[i] ^ byte;
      target.set(IV);
      compress(target, this.w, pad, 0);
    }
  }

  /** The first `hexDigits` (≤ 64) lowercase hex digits of HMAC-SHA256(key, UTF-8 of value). */
  hex(value: string, hexDigits: number): string {
    const st = this.state;
    // inner: H((K ^ ipad) || m), continuing from the precomputed state after the pad block
    st.set(this.inner);
    const len = this.writeUtf8(value);
    const total = this.pad(len, 64 + len);
    for (let off = 0; off < total; off += 64) compress(st, this.w, this.buf, off);
    // outer: H((K ^ opad) || inner digest): one block
    const b = this.buf;
    for (let i = 0; i < 8; i++) {
      const v = st[i];
      b[i * 4] = v >>> 24;
      b[i * 4 + 1] = v >>> 16;
      b[i * 4 + 2] = v >>> 8;
      b[i * 4 + 3] = v;
    }
    this.pad(32, 64 + 32);
    st.set(this.outer);
    compress(st, this.w, b, 0);
    let out = "";
    for (let i = 0; out.length < hexDigits; i++) {
      const v = st[i >> 2] >>> (24 - 8 * (i & 3));
      out += HEX[v & 0xff];
    }
    return out.length > hexDigits ? out.slice(0, hexDigits) : out;
  }

  /** Writes the UTF-8 of value at the start of buf (growing it); returns its length. */
  private writeUtf8(value: string): number {
    // a UTF-16 unit becomes at most 3 UTF-8 bytes; + 72 for the padding after it
    const need = value.length * 3 + 72;
    if (need > this.buf.length) this.buf = new Uint8Array(Math.max(need, this.buf.length * 2));
    return ENCODER.encodeInto(value, this.buf).written;
  }

  /** SHA-256 padding after `len` bytes of buf, for a message of `totalBytes` bytes in all. */
  private pad(len: number, totalBytes: number): number {
    const b = this.buf;
    b[len] = 0x80;
    let end = len + 1;
    while ((end + 8) % 64 !== 0) b[end++] = 0;
    // the length in bits, 64-bit big-endian (messages here stay far below 2^32 bits)
    const bits = totalBytes * 8;
    b[end] = b[end + 1] = b[end + 2] = 0;
    b[end + 3] = Math.floor(bits / 2 ** 32);
    b[end + 4] = bits >>> 24;
    b[end + 5] = bits >>> 16;
    b[end + 6] = bits >>> 8;
    b[end + 7] = bits;
    return end + 8;
  }
}

const ENCODER = new TextEncoder();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** The SHA-256 compression function over the 64-byte block at b[off], updating st. */
function compress(st: Int32Array, w: Int32Array, b: Uint8Array, off: number): void {
  for (let i = 0; i < 16; i++) {
    const j = off + i * 4;
    w[i] = (b[j] << 24) | (b[j + 1] << 16) | (b[j + 2] << 8) | b[j + 3];
  }
  for (let i = 16; i < 64; i++) {
    const a = w[i - 15];
    const c = w[i - 2];
    const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
    const s1 = ((c >>> 17) | (c << 15)) ^ ((c >>> 19) | (c << 13)) ^ (c >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  let a = st[0];
  let b1 = st[1];
  let c = st[2];
  let d = st[3];
  let e = st[4];
  let f = st[5];
  let g = st[6];
  let h = st[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const ch = (e & f) ^ (~e & g);
    const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const maj = (a & b1) ^ (a & c) ^ (b1 & c);
    const t2 = (S0 + maj) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b1;
    b1 = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0] + a) | 0;
  st[1] = (st[1] + b1) | 0;
  st[2] = (st[2] + c) | 0;
  st[3] = (st[3] + d) | 0;
  st[4] = (st[4] + e) | 0;
  st[5] = (st[5] + f) | 0;
  st[6] = (st[6] + g) | 0;
  st[7] = (st[7] + h) | 0;
}
