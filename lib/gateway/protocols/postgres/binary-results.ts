/**
 * Text → binary result values, for masked connections. A masked value can only be masked as
 * text, so when a client asks for binary results under masking the gateway asks the upstream for
 * text, masks it, and encodes what is left in the type's binary send format here (what
 * node-postgres `binary: true`, JDBC, Npgsql or asyncpg expect). The encoders follow PostgreSQL's
 * *send functions; binary-results.test.ts checks them byte for byte against a real server.
 *
 * A masked value that no longer parses as its type ("[REDACTED]" in an int column, "****5678"
 * in a numeric) is sent as NULL: the value is withheld either way. Types not listed cannot be
 * requested in binary on a masked connection (the session ends with 0A000 rather than guess).
 *
 * Dates and timestamps are read in DateStyle ISO (PostgreSQL's default); the relay tracks the
 * server's reported DateStyle and treats these types as unsupported otherwise. Floats are read as
 * the exact shortest round-trip text PostgreSQL writes while extra_float_digits > 0 (its default
 * 1); at 0 or below float4out/float8out round to 6/15 digits, and the binary made from that text
 * would be another number, so the session treats float4/float8 as unsupported once it may have
 * set that (parameters.ts mayRoundFloats).
 */

type Encoder = (text: string) => Buffer | null;

const INT = /^-?\d+$/;

function int(bytes: 2 | 4, min: number, max: number): Encoder {
  return (t) => {
    if (!INT.test(t)) return null;
    const n = Number(t);
    if (n < min || n > max) return null;
    const b = Buffer.allocUnsafe(bytes);
    if (bytes === 2) b.writeInt16BE(n);
    else b.writeInt32BE(n);
    return b;
  };
}

const int8: Encoder = (t) => {
  if (!INT.test(t)) return null;
  const n = BigInt(t);
  if (n < -(1n << 63n) || n >= 1n << 63n) return null;
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(n);
  return b;
};

const oid: Encoder = (t) => {
  if (!/^\d+$/.test(t)) return null;
  const n = Number(t);
  if (n > 0xffffffff) return null;
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n);
  return b;
};

const FLOAT = /^(-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?|NaN|-?Infinity)$/i;

function float(bytes: 4 | 8): Encoder {
  return (t) => {
    if (!FLOAT.test(t)) return null;
    const b = Buffer.allocUnsafe(bytes);
    const n = Number(t.replace(/^(-?)infinity$/i, "$1Infinity"));
    if (bytes === 4) b.writeFloatBE(nearestFloat32(t, n));
    else b.writeDoubleBE(n);
    return b;
  };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** the float32 one step from `f` (finite, not 0) away from or towards zero */
function stepFloat32(f: number, away: boolean): number {
  f32[0] = f;
  u32[0] += away ? 1 : -1;
  return f32[0];
}

/**
 * float4in reads the decimal straight to the nearest float (strtof). Through a double first, a
 * decimal just off the midpoint between two floats can land on it and then round to even the
 * wrong way ("7.038531e-26"): there the decimal itself is compared with the midpoint, exactly.
 */
function nearestFloat32(t: string, n: number): number {
  const f = Math.fround(n);
  if (!Number.isFinite(n) || n === f || f === 0 || !Number.isFinite(f)) return f;
  const other = Math.abs(f) < Math.abs(n) ? stepFloat32(f, true) : stepFloat32(f, false);
  if (!Number.isFinite(other) || (f + other) / 2 !== n) return f; // not on a midpoint: rounding once was exact
  const cmp = compareDecimal(t, n);
  if (cmp === 0) return f; // a real tie: to even, as fround did
  return (cmp > 0) === Math.abs(f) > Math.abs(n) ? f : other; // the one on the decimal's side of the midpoint
}

/** sign of |decimal text| − |double|, in exact integer arithmetic */
function compareDecimal(t: string, d: number): number {
  const m = /^-?(\d*)\.?(\d*)(?:e([-+]?\d+))?$/i.exec(t)!;
  let left = BigInt(`${m[1]}${m[2]}` || "0");
  const exp10 = Number(m[3] ?? 0) - m[2].length;
  const bits = new DataView(new Float64Array([Math.abs(d)]).buffer);
  const hiLo = bits.getBigUint64(0, true);
  const biased = Number(hiLo >> 52n);
  let right = (hiLo & ((1n << 52n) - 1n)) | (biased ? 1n << 52n : 0n);
  const exp2 = (biased || 1) - 1075;
  if (exp10 >= 0) left *= 10n ** BigInt(exp10);
  else right *= 10n ** BigInt(-exp10);
  if (exp2 >= 0) right <<= BigInt(exp2);
  else left <<= BigInt(-exp2);
  return left === right ? 0 : left > right ? 1 : -1;
}

const bool: Encoder = (t) => (t === "t" ? Buffer.from([1]) : t === "f" ? Buffer.from([0]) : null);

const utf8: Encoder = (t) => Buffer.from(t, "utf8");

const jsonb: Encoder = (t) => Buffer.concat([Buffer.from([1]), Buffer.from(t, "utf8")]);

/** "char": one byte; its text output writes bytes >= 128 as \ooo and NUL as "". */
const char: Encoder = (t) => {
  if (t === "") return Buffer.from([0]);
  if (/^\\[0-7]{3}$/.test(t)) return Buffer.from([parseInt(t.slice(1), 8) & 0xff]);
  const b = Buffer.from(t, "utf8");
  return b.length === 1 ? b : null;
};

/** bytea in either bytea_output: hex (\x...) or escape (\\ and \ooo). */
const bytea: Encoder = (t) => {
  if (t.startsWith("\\x")) return /^[0-9a-f]*$/i.test(t.slice(2)) && t.length % 2 === 0 ? Buffer.from(t.slice(2), "hex") : null;
  const out: number[] = [];
  for (let i = 0; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c !== 92) {
      if (c > 126) return null; // escape output is ASCII
      out.push(c);
    } else if (t[i + 1] === "\\") {
      out.push(92);
      i++;
    } else if (/^[0-3][0-7]{2}$/.test(t.slice(i + 1, i + 4))) {
      out.push(parseInt(t.slice(i + 1, i + 4), 8));
      i += 3;
    } else return null;
  }
  return Buffer.from(out);
};

const uuid: Encoder = (t) => {
  const hex = t.replace(/-/g, "");
  return /^[0-9a-f]{32}$/i.test(hex) ? Buffer.from(hex, "hex") : null;
};

const NUMERIC = /^(-)?(\d+)(?:\.(\d+))?$/;

/** numeric_send: ndigits, weight, sign, dscale, then base-10000 digits without leading/trailing zero groups. */
const numeric: Encoder = (t) => {
  const special = ({ NaN: 0xc000, Infinity: 0xd000, "-Infinity": 0xf000 } as Record<string, number>)[t];
  // The server reads dscale of a special value from its header bits: 32 for the infinities.
  if (special !== undefined) return header(0, 0, special, special === 0xc000 ? 0 : 32, []);
  const m = NUMERIC.exec(t);
  if (!m) return null;
  const intPart = m[2].replace(/^0+/, "");
  const frac = m[3] ?? "";
  const ip = intPart.padStart(Math.ceil(intPart.length / 4) * 4, "0");
  const fp = frac.padEnd(Math.ceil(frac.length / 4) * 4, "0");
  let digits: number[] = [];
  for (let i = 0; i < ip.length; i += 4) digits.push(Number(ip.slice(i, i + 4)));
  let weight = digits.length - 1;
  for (let i = 0; i < fp.length; i += 4) digits.push(Number(fp.slice(i, i + 4)));
  let lead = 0;
  while (lead < digits.length && digits[lead] === 0) lead++;
  weight -= lead;
  digits = digits.slice(lead);
  while (digits.length && digits[digits.length - 1] === 0) digits.pop();
  if (digits.length === 0) weight = 0;
  return header(digits.length, weight, m[1] && digits.length ? 0x4000 : 0, frac.length, digits);
};

function header(ndigits: number, weight: number, sign: number, dscale: number, digits: number[]): Buffer {
  const b = Buffer.allocUnsafe(8 + 2 * ndigits);
  b.writeInt16BE(ndigits, 0);
  b.writeInt16BE(weight, 2);
  b.writeUInt16BE(sign, 4);
  b.writeInt16BE(dscale, 6);
  digits.forEach((d, i) => b.writeInt16BE(d, 8 + 2 * i));
  return b;
}

/** Days from 1970-01-01 of a proleptic Gregorian date (astronomical year: 1 BC = 0). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** PostgreSQL's epoch for dates and timestamps is 2000-01-01. */
const PG_EPOCH_DAYS = daysFromCivil(2000, 1, 1);
const DATE = /^(\d{4,})-(\d\d)-(\d\d)( BC)?$/;
const TIMESTAMP = /^(\d{4,})-(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?([+-]\d\d(?::\d\d){0,2})?( BC)?$/;
const TIME = /^(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?$/;
const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

function pgDays(year: string, month: string, day: string, bc: string | undefined): number {
  const y = Number(year);
  return daysFromCivil(bc ? 1 - y : y, Number(month), Number(day)) - PG_EPOCH_DAYS;
}

function micros(h: string, mi: string, s: string, frac: string | undefined): bigint {
  return BigInt(((Number(h) * 60 + Number(mi)) * 60 + Number(s)) * 1_000_000 + Number((frac ?? "").padEnd(6, "0")));
}

const date: Encoder = (t) => {
  const b = Buffer.allocUnsafe(4);
  if (t === "infinity" || t === "-infinity") {
    b.writeInt32BE(t === "infinity" ? 0x7fffffff : -0x80000000);
    return b;
  }
  const m = DATE.exec(t);
  if (!m) return null;
  b.writeInt32BE(pgDays(m[1], m[2], m[3], m[4]));
  return b;
};

function timestamp(withZone: boolean): Encoder {
  return (t) => {
    const b = Buffer.allocUnsafe(8);
    if (t === "infinity" || t === "-infinity") {
      b.writeBigInt64BE(t === "infinity" ? INT64_MAX : INT64_MIN);
      return b;
    }
    const m = TIMESTAMP.exec(t);
    if (!m || (withZone ? !m[8] : !!m[8])) return null;
    let us = BigInt(pgDays(m[1], m[2], m[3], m[9])) * 86_400_000_000n + micros(m[4], m[5], m[6], m[7]);
    if (m[8]) {
      const [hh, mm = "0", ss = "0"] = m[8].slice(1).split(":");
      const offset = BigInt(((Number(hh) * 60 + Number(mm)) * 60 + Number(ss)) * 1_000_000);
      us += m[8][0] === "+" ? -offset : offset; // local time minus its offset is UTC
    }
    b.writeBigInt64BE(us);
    return b;
  };
}

const time: Encoder = (t) => {
  const m = TIME.exec(t);
  if (!m) return null;
  const b = Buffer.allocUnsafe(8);
  b.writeBigInt64BE(micros(m[1], m[2], m[3], m[4]));
  return b;
};

/** type OID → encoder of the text output. `dates`: reads DateStyle-dependent text; `floats`: extra_float_digits-dependent. */
const SCALARS = new Map<number, { enc: Encoder; dates?: true; floats?: true }>([
  [16, { enc: bool }],
  [17, { enc: bytea }],
  [18, { enc: char }],
  [19, { enc: utf8 }], // name
  [20, { enc: int8 }],
  [21, { enc: int(2, -32768, 32767) }],
  [23, { enc: int(4, -2147483648, 2147483647) }],
  [25, { enc: utf8 }], // text
  [26, { enc: oid }],
  [114, { enc: utf8 }], // json
  [700, { enc: float(4), floats: true }],
  [701, { enc: float(8), floats: true }],
  [705, { enc: utf8 }], // unknown
  [1042, { enc: utf8 }], // bpchar
  [1043, { enc: utf8 }], // varchar
  [1082, { enc: date, dates: true }],
  [1083, { enc: time }],
  [1114, { enc: timestamp(false), dates: true }],
  [1184, { enc: timestamp(true), dates: true }],
  [1700, { enc: numeric }],
  [2950, { enc: uuid }],
  [3802, { enc: jsonb }],
]);

/** array type OID → element type OID */
const ARRAYS = new Map<number, number>([
  [1000, 16], [1001, 17], [1002, 18], [1003, 19], [1016, 20], [1005, 21], [1007, 23], [1009, 25], [1028, 26],
  [199, 114], [1021, 700], [1022, 701], [1014, 1042], [1015, 1043], [1182, 1082], [1183, 1083], [1115, 1114],
  [1185, 1184], [1231, 1700], [2951, 2950], [3807, 3802],
]);

/**
 * Whether values of this type can be sent in binary on a masked connection, given the DateStyle
 * and whether float text is exact (extra_float_digits > 0 for all the session knows).
 */
export function binaryConvertible(typeOid: number, isoDates: boolean, exactFloats = true): boolean {
  const scalar = SCALARS.get(ARRAYS.get(typeOid) ?? typeOid);
  return !!scalar && (isoDates || !scalar.dates) && (exactFloats || !scalar.floats);
}

/** The binary form of a text value of a convertible type; null when the (masked) text is not of that type. */
export function textToBinary(typeOid: number, text: string): Buffer | null {
  const element = ARRAYS.get(typeOid);
  if (element !== undefined) return arrayToBinary(element, text);
  const scalar = SCALARS.get(typeOid);
  return scalar ? scalar.enc(text) : null;
}

/**
 * array_send from array_out's text: optional "[lb:ub]...=" bounds, nested braces per dimension,
 * elements comma-separated, double-quoted with backslash escapes when needed, unquoted NULL.
 */
function arrayToBinary(elementOid: number, text: string): Buffer | null {
  const enc = SCALARS.get(elementOid)!.enc;
  let t = text;
  let lower: number[] = [];
  const bounds = /^((?:\[-?\d+:-?\d+\])+)=/.exec(t);
  if (bounds) {
    lower = [...bounds[1].matchAll(/\[(-?\d+):/g)].map((x) => Number(x[1]));
    t = t.slice(bounds[0].length);
  }
  const dims: number[] = [];
  const items: (string | null)[] = [];
  let i = 0;
  // One pass: counts per depth; the first complete list at each depth fixes that dimension.
  const parse = (depth: number): boolean => {
    if (t[i] !== "{") return false;
    i++;
    let count = 0;
    if (t[i] === "}") {
      i++;
      return depth === 0 && dims.length === 0;
    }
    for (;;) {
      if (t[i] === "{") {
        if (!parse(depth + 1)) return false;
      } else {
        if (dims.length > depth + 1) return false;
        const item = element(t, i);
        if (!item) return false;
        items.push(item.value);
        i = item.end;
      }
      count++;
      if (t[i] === ",") {
        i++;
        continue;
      }
      if (t[i] !== "}") return false;
      i++;
      break;
    }
    if (dims[depth] === undefined) dims[depth] = count;
    return dims[depth] === count;
  };
  if (!parse(0) || i !== t.length) return null;
  if (lower.length && lower.length !== dims.length) return null;
  const values: (Buffer | null)[] = [];
  for (const v of items) {
    if (v === null) values.push(null);
    else {
      const b = enc(v);
      if (!b) return null;
      values.push(b);
    }
  }
  const head = Buffer.allocUnsafe(12 + 8 * dims.length);
  head.writeInt32BE(dims.length, 0);
  head.writeInt32BE(values.includes(null) ? 1 : 0, 4);
  head.writeUInt32BE(elementOid, 8);
  dims.forEach((d, k) => {
    head.writeInt32BE(d, 12 + 8 * k);
    head.writeInt32BE(lower[k] ?? 1, 16 + 8 * k);
  });
  const parts: Buffer[] = [head];
  for (const v of values) {
    const len = Buffer.allocUnsafe(4);
    len.writeInt32BE(v === null ? -1 : v.length);
    parts.push(len);
    if (v) parts.push(v);
  }
  return Buffer.concat(parts);
}

function element(t: string, start: number): { value: string | null; end: number } | null {
  let i = start;
  if (t[i] === '"') {
    let out = "";
    for (i++; i < t.length && t[i] !== '"'; i++) {
      if (t[i] === "\\") i++;
      out += t[i] ?? "";
    }
    return t[i] === '"' ? { value: out, end: i + 1 } : null;
  }
  while (i < t.length && t[i] !== "," && t[i] !== "}" && t[i] !== "{" && t[i] !== '"') i++;
  const raw = t.slice(start, i);
  if (raw === "") return null;
  return { value: raw === "NULL" ? null : raw, end: i };
}
