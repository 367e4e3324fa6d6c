import fc from "fast-check";
import postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { build, type BackendMessage } from "@/lib/gateway/protocols/postgres/wire";
import { addConnection, addMaskingRule, addUser, pgUpstream, putPolicies } from "../support/api-fixture";
import { type GatehouseProcess, login, startGatehouse, teardown } from "../support/gatehouse";
import { WireClient } from "../support/pg-wire-client";
import { startPostgres15, type Postgres15 } from "../support/postgres";

/**
 * Differential test of binary results on a MASKED connection. Under masking the gateway asks the
 * upstream for text, masks it and encodes the values into the binary format the client bound
 * (binary-results.ts). For columns no rule masks, what the client receives must be byte for byte
 * what PostgreSQL 15 sends in binary itself: fast-check generates values of every convertible
 * type (edge cases included), session settings that change the text the gateway reads (TimeZone,
 * DateStyle, extra_float_digits, bytea_output), and the SAME Parse/Bind(result format 1)/
 * Describe/Execute/Sync goes to PostgreSQL directly and through Gatehouse, the value written as a
 * literal or sent as a parameter. Every backend message must be the same, DataRow bytes and
 * RowDescription format codes included.
 *
 * The user's reads are masked by a rule on bd_secret.secret (no detectors), so the masking path,
 * and with it the text → binary re-encoding, runs for every statement; the compared columns are
 * never bd_secret.secret.
 *
 * Differences that are intended (the text form the gateway reads cannot carry them) are listed
 * where they are excluded:
 * - a NaN's sign and payload (text says only "NaN"): the generated NaNs are PostgreSQL's own;
 * - an array's null-bitmap flag when the bitmap holds no NULL (array_send sends "has a bitmap",
 *   text shows no NULL): generated arrays are built from literals, which have a bitmap only
 *   when they hold a NULL;
 * - types the encoder does not know (timetz, interval, ...), date/time types while DateStyle is
 *   not ISO and floats once extra_float_digits may be 0 or less end the session with 0A000
 *   instead (checked below, not compared).
 */

const POLICIES = `
@id("everything-masked")
@mask("bindiff")
permit (principal, action, resource);
`;

const USER = "bindiff@example.test";
const DATABASE = "bindiff";
const LOGIN = { user: USER, database: DATABASE };

// ---- values: the text PostgreSQL's input function reads ----

const digits = (min: number, max: number) => fc.string({ unit: fc.constantFrom(..."0123456789"), minLength: min, maxLength: max });
const pad = (n: number, w: number) => String(n).padStart(w, "0");

/** A JS double as a literal PostgreSQL reads back exactly (String() is shortest round-trip). */
const floatText = (v: number) => (Number.isNaN(v) ? "NaN" : Object.is(v, -0) ? "-0" : v === Infinity ? "Infinity" : v === -Infinity ? "-Infinity" : String(v));

const FLOAT8_EDGES = ["0", "-0", "NaN", "Infinity", "-Infinity", "5e-324", "-4.9e-324", "1e-320", "2.2250738585072014e-308", "2.225073858507201e-308", "1.7976931348623157e308", "0.1", "1.0000000000000002", "123456789012345680000", "1e22", "9007199254740993", "0.30000000000000004", "1e15", "1e16", "1e-5", "0.0001"];
const FLOAT4_EDGES = ["0", "-0", "NaN", "Infinity", "-Infinity", "1.4e-45", "1e-45", "1.17549435e-38", "1.1754942e-38", "3.4028235e38", "0.1", "16777217", "1.0000001", "123456.79", "1e-7", "3.4028234e38", "7.038531e-26", "1e10"];

const int = (min: number, max: number) => fc.oneof(fc.integer({ min, max }).map(String), fc.constantFrom(String(min), String(max), "0", "-1", "1"));

const numericText = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.boolean(), digits(1, 30), fc.option(digits(0, 30), { nil: undefined })).map(([neg, i, f]) => `${neg ? "-" : ""}${i}${f === undefined ? "" : `.${f}`}`) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), digits(1, 400), digits(0, 400)).map(([neg, i, f]) => `${neg ? "-" : ""}${i}.${f}`) },
  { weight: 1, arbitrary: fc.tuple(fc.boolean(), digits(1, 8), fc.integer({ min: -300, max: 300 })).map(([neg, m, e]) => `${neg ? "-" : ""}${m[0]}.${m.slice(1)}e${e}`) },
  { weight: 2, arbitrary: fc.constantFrom("NaN", "Infinity", "-Infinity", "0", "0.000", "-0.000", "0.0001", "10000", "9999.9999", "1.10", "100.00100", "0.00000001", "-1e-16383", "1e131071") },
);
const NUMERIC_TYPES = ["numeric", "numeric", "numeric(10,3)", "numeric(5,-2)", "numeric(3,5)", "numeric(1000,500)", "numeric(20,0)"];

/** Text with what array quoting and the gateway's parsing could trip on; never NUL (PostgreSQL refuses it). */
const textValue = fc.oneof(
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: fc.constantFrom("a", " ", '"', "\\", ",", "{", "}", "'", "N", "U", "L", "\t", "\n", "é", "✓", "😀", "\u0301", "\u00a0", "["), maxLength: 12 }),
  fc.constantFrom("", "NULL", "null", " ", '"', "\\", "{}", "[1:2]={a}", "a,b", "t", "\\x00", "[REDACTED]"),
).map((s) => s.replace(/\0/g, ""));

const month = fc.integer({ min: 1, max: 12 });
const day = fc.integer({ min: 1, max: 28 });
const bcYear = fc.integer({ min: 1, max: 4713 });
/** years: mostly common, some far, some BC */
const dateParts = (maxYear: number) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.tuple(fc.integer({ min: 1800, max: 2100 }), month, day, fc.constant(false)) },
    { weight: 2, arbitrary: fc.tuple(fc.integer({ min: 1, max: maxYear }), month, day, fc.constant(false)) },
    { weight: 2, arbitrary: fc.tuple(bcYear, month, day, fc.constant(true)) },
  );
const ymd = ([y, m, d]: [number, number, number, boolean]) => `${pad(y, 4)}-${pad(m, 2)}-${pad(d, 2)}`;
const dateText = fc.oneof(
  { weight: 6, arbitrary: dateParts(5874896).map((p) => `${ymd(p)}${p[3] ? " BC" : ""}`) },
  { weight: 1, arbitrary: fc.constantFrom("infinity", "-infinity", "2024-02-29", "0001-02-29 BC", "0005-02-29 BC", "4714-11-24 BC", "5874897-12-31", "1582-10-10", "0001-01-01", "0001-12-31 BC", "epoch") },
);
const clock = fc.tuple(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), fc.integer({ min: 0, max: 59 }), fc.option(digits(1, 7), { nil: undefined }));
const clockText = ([h, m, s, f]: [number, number, number, string | undefined]) => `${pad(h, 2)}:${pad(m, 2)}:${pad(s, 2)}${f === undefined ? "" : `.${f}`}`;
const timeText = fc.oneof({ weight: 6, arbitrary: clock.map(clockText) }, { weight: 1, arbitrary: fc.constantFrom("24:00:00", "00:00:00", "23:59:59.999999", "23:59:59.9999999", "allballs", "12:00:00.5") });
const OFFSETS = ["", "", "+00", "+05:30", "-03:30", "+14", "-12", "+00:19:32", "-00:44:30", " Europe/Amsterdam", " America/New_York", "Z"];
const timestampText = (zone: boolean) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.tuple(dateParts(294275), clock, fc.constantFrom(...(zone ? OFFSETS : [""]))).map(([p, c, z]) => `${ymd(p)} ${clockText(c)}${z}${p[3] ? " BC" : ""}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom("infinity", "-infinity", "epoch", "294276-12-31 23:59:59.999999", "4714-11-24 00:00:00 BC", "2000-01-01 00:00:00", "1937-06-30 23:59:59.999999", "1969-12-31 23:59:59.5", "0001-01-01 00:00:00 BC"),
    },
  );

const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => Buffer.from(b).toString("hex"));
const uuidText = fc.oneof(fc.uuid(), fc.uuid().map((u) => u.toUpperCase()), hex(16), fc.uuid().map((u) => `{${u}}`), fc.constantFrom("00000000-0000-0000-0000-000000000000", "ffffffff-ffff-ffff-ffff-ffffffffffff"));
const jsonText = fc.oneof(fc.json({ maxDepth: 3 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v, null, 1)), fc.constantFrom('{"b": 1, "a": [1, 2.50, 1e3]}', '"\\u00e9\\n"', "  [ ]  ", "null", '{"a":1,"a":2}', "1.000", "-0", "1E+2"));
const byteaText = fc.oneof(fc.uint8Array({ maxLength: 24 }).map((b) => `\\x${Buffer.from(b).toString("hex")}`), fc.constantFrom("\\x", "hello", "\\\\", "a\\001b", "\\377"));

/** type name → the text of its values (what its input function reads) */
const SCALARS: Record<string, fc.Arbitrary<string>> = {
  int2: int(-32768, 32767),
  int4: int(-2147483648, 2147483647),
  int8: fc.oneof(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }).map(String), fc.constantFrom("-9223372036854775808", "9223372036854775807", "0")),
  oid: fc.oneof(fc.integer({ min: 0, max: 4294967295 }).map(String), fc.constantFrom("4294967295", "-1", "0")),
  float8: fc.oneof(fc.double().map(floatText), fc.constantFrom(...FLOAT8_EDGES), fc.double({ min: -1e-300, max: 1e-300 }).map(floatText)),
  float4: fc.oneof(fc.float().map(floatText), fc.constantFrom(...FLOAT4_EDGES), fc.tuple(fc.boolean(), digits(1, 9), fc.integer({ min: -45, max: 38 })).map(([n, m, e]) => `${n ? "-" : ""}${m}e${e}`)),
  numeric: numericText,
  bool: fc.constantFrom("t", "f", "true", "false", "yes", "no", "on", "off", "1", "0"),
  text: textValue,
  varchar: textValue,
  "varchar(3)": textValue,
  bpchar: textValue,
  "char(5)": textValue,
  name: textValue,
  '"char"': fc.constantFrom("a", "", "é", "Z", " ", "\\", '"', ","),
  bytea: byteaText,
  uuid: uuidText,
  json: jsonText,
  jsonb: jsonText,
  date: dateText,
  time: timeText,
  "time(3)": timeText,
  timestamp: timestampText(false),
  "timestamp(2)": timestampText(false),
  timestamptz: timestampText(true),
};

/** array_in text: quoted elements (backslash escapes), NULLs, 1-3 dimensions, explicit lower bounds at times */
function arrayText(element: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const quote = (s: string | null) => (s === null ? "NULL" : `"${s.replace(/[\\"]/g, "\\$&")}"`);
  return fc
    .array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 })
    .chain((dims) => {
      const n = dims.reduce((a, b) => a * b, 1);
      return fc.tuple(fc.constant(dims), fc.array(fc.option(element, { freq: 4, nil: null }), { minLength: n, maxLength: n }), fc.option(fc.array(fc.integer({ min: -5, max: 5 }), { minLength: dims.length, maxLength: dims.length }), { nil: null }));
    })
    .map(([dims, items, lower]) => {
      if (items.length === 0) return "{}";
      let k = 0;
      const nest = (d: number): string => `{${Array.from({ length: dims[d] }, () => (d + 1 < dims.length ? nest(d + 1) : quote(items[k++]))).join(",")}}`;
      const bounds = lower ? lower.map((lb, d) => `[${lb}:${lb + dims[d] - 1}]`).join("") + "=" : "";
      return bounds + nest(0);
    });
}

const ARRAY_ELEMENTS = ["int2", "int4", "int8", "oid", "float4", "float8", "numeric", "bool", "text", "varchar", "char(5)", "name", '"char"', "bytea", "uuid", "json", "jsonb", "date", "time", "timestamp", "timestamptz"];

interface Value {
  type: string;
  /** the input text, or null for a NULL */
  text: string | null;
  /** sent as a parameter (text format) rather than written into the SQL */
  param: boolean;
}

const value: fc.Arbitrary<Value> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...Object.keys(SCALARS)).chain((type) => fc.record({ type: fc.constant(type === "numeric" ? NUMERIC_TYPES[0] : type), text: SCALARS[type], param: fc.boolean() })) },
  { weight: 1, arbitrary: fc.constantFrom(...NUMERIC_TYPES).chain((type) => fc.record({ type: fc.constant(type), text: numericText, param: fc.boolean() })) },
  { weight: 2, arbitrary: fc.constantFrom(...ARRAY_ELEMENTS).chain((el) => fc.record({ type: fc.constant(`${el}[]`), text: arrayText(SCALARS[el]), param: fc.boolean() })) },
  { weight: 1, arbitrary: fc.record({ type: fc.constantFrom("int4", "text", "numeric", "timestamptz", "int4[]"), text: fc.constant(null), param: fc.boolean() }) },
);

/** Session settings that change the text the gateway reads (never the binary PostgreSQL sends). */
const settings = fc.record({
  timeZone: fc.constantFrom("UTC", "Asia/Kolkata", "America/St_Johns", "Europe/Amsterdam", "Africa/Monrovia", "Pacific/Chatham", "America/Sao_Paulo", "<+0530>-05:30", "Etc/GMT+12"),
  dateStyle: fc.constantFrom("ISO, MDY", "ISO, DMY", "ISO, YMD"),
  // 0 and below round float text: the gateway then refuses float binary (regression test below)
  extraFloatDigits: fc.constantFrom(1, 2, 3),
  byteaOutput: fc.constantFrom("hex", "escape"),
});
type Settings = typeof settings extends fc.Arbitrary<infer S> ? S : never;

const sqlLiteral = (s: string) => `'${s.replace(/'/g, "''")}'`;

/** One Parse/Bind(binary results)/Describe/Execute/Sync per value: a failing value does not hide the others. */
function statementsOf(values: readonly Value[]): Buffer {
  return Buffer.concat(
    values.flatMap((v) => {
      const sql = v.param ? `select $1::${v.type} as v` : `select ${v.text === null ? "null" : sqlLiteral(v.text)}::${v.type} as v`;
      const params = v.param ? [v.text === null ? null : Buffer.from(v.text, "utf8")] : [];
      return [build.parse({ text: sql }), build.bind({ params, resultFormats: [1] }), build.describe("P"), build.execute(), build.sync()];
    }),
  );
}

const setQuery = (s: Settings) => `set timezone = ${sqlLiteral(s.timeZone)}; set datestyle = ${sqlLiteral(s.dateStyle)}; set extra_float_digits = ${s.extraFloatDigits}; set bytea_output = ${s.byteaOutput}`;

/**
 * A message as compared: every field, byte values in hex. Of an error only its code: on a masked
 * connection the gateway drops DETAIL/WHERE and redacts values the client did not write from the
 * message (server-messages.ts), on purpose.
 */
const shown = (m: BackendMessage) =>
  m.type === "ErrorResponse" ? `ErrorResponse ${m.fields.code}` : JSON.stringify(m, (_k, v) => (v && v.type === "Buffer" && Array.isArray(v.data) ? `\\x${Buffer.from(v.data).toString("hex")}` : v));

/** Each value's answer (messages up to its ReadyForQuery), side by side. */
function perValue(msgs: BackendMessage[]): string[][] {
  const out: string[][] = [[]];
  for (const m of msgs) {
    out[out.length - 1].push(shown(m));
    if (m.type === "ReadyForQuery") out.push([]);
  }
  return out.slice(0, -1);
}

describe("PostgreSQL gateway: binary results on a masked connection, against PostgreSQL 15", () => {
  let gh: GatehouseProcess;
  let pg15: Postgres15;
  let token = "";
  let direct: WireClient;
  let gateway: WireClient;

  beforeAll(async () => {
    [gh, pg15] = await Promise.all([startGatehouse({ demo: false }), startPostgres15()]);
    const setup = postgres(pg15.url, { max: 1, onnotice: () => {} });
    try {
      await setup.unsafe("create table bd_secret (id int primary key, secret text); insert into bd_secret values (1, 'hunter2-top-secret')");
    } finally {
      await setup.end();
    }
    const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
    token = await addUser(gh, admin, USER);
    await addConnection(gh, admin, DATABASE, pgUpstream(pg15));
    await addMaskingRule(gh, admin, { name: "bindiff-secret", ruleSet: "bindiff", columns: ["bd_secret.secret"], style: "redact" });
    await putPolicies(gh, admin, POLICIES, "binary differential: everything, masked");
    direct = await WireClient.open(pg15.port);
    await direct.loginDirect();
    gateway = await WireClient.open(gh.ports.postgres);
    await gateway.loginGateway(token, LOGIN);
  }, 120_000);

  afterAll(async () => {
    await direct?.end();
    await gateway?.end();
    await teardown(gh, pg15);
  });

  /** The same settings and values on both connections; the answers per value. */
  async function both(s: Settings, values: readonly Value[]): Promise<{ d: string[][]; g: string[][] }> {
    // A session the gateway ended (a failure being shrunk) is replaced, so shrinking goes on.
    if (gateway.closed) {
      gateway = await WireClient.open(gh.ports.postgres);
      await gateway.loginGateway(token, LOGIN);
    }
    const set = build.query(setQuery(s));
    const batch = statementsOf(values);
    const [d, g] = await Promise.all([direct.exchange(Buffer.concat([set, batch]), values.length + 1), gateway.exchange(Buffer.concat([set, batch]), values.length + 1)]);
    return { d: perValue(d), g: perValue(g) };
  }

  it("masks on this connection: the secret arrives redacted in binary, and a type it cannot encode is refused", async () => {
    const sql = "select id, secret from bd_secret";
    const q = Buffer.concat([build.parse({ text: sql }), build.bind({ resultFormats: [1] }), build.execute(), build.sync()]);
    const d = await direct.exchange(q, 1);
    const g = await gateway.exchange(q, 1);
    const row = (msgs: BackendMessage[]) => (msgs.find((m) => m.type === "DataRow") as Extract<BackendMessage, { type: "DataRow" }>).values;
    expect(row(d)[1]!.toString()).toBe("hunter2-top-secret");
    expect(row(g)[0]!.readInt32BE()).toBe(1);
    expect(row(g)[1]!.toString()).not.toContain("hunter2");
    // a statement that does not read bd_secret is converted too: timetz has no encoder (0A000, session ends)
    const probe = await WireClient.open(gh.ports.postgres);
    try {
      await probe.loginGateway(token, LOGIN);
      const tz = await probe.exchange(Buffer.concat([build.parse({ text: "select '12:00:00+02'::timetz as t" }), build.bind({ resultFormats: [1] }), build.execute(), build.sync()]), 1);
      expect(tz.find((m) => m.type === "ErrorResponse")).toMatchObject({ fields: { code: "0A000" } });
    } finally {
      await probe.end();
    }
  });

  /** A fresh gateway session (optionally with startup parameters), one binary select after `setup`. */
  async function refusedOrSame(sql: string, setup: string | null, startup: Record<string, string> = {}) {
    const d = await WireClient.open(pg15.port);
    const g = await WireClient.open(gh.ports.postgres);
    try {
      await d.loginDirect();
      await g.loginGateway(token, { ...LOGIN, ...startup });
      const q = Buffer.concat([...(setup ? [build.query(setup)] : []), build.parse({ text: sql }), build.bind({ resultFormats: [1] }), build.execute(), build.sync()]);
      // the select's answer: after the setup's ReadyForQuery, up to its own (or the session's end)
      const answer = (msgs: BackendMessage[]) => msgs.slice(setup ? msgs.findIndex((m) => m.type === "ReadyForQuery") + 1 : 0).map(shown);
      return { direct: answer(await d.exchange(q, setup ? 2 : 1)), gateway: answer(await g.exchange(q, setup ? 2 : 1)), closed: g.closed };
    } finally {
      await d.end();
      await g.end();
    }
  }

  // Regression: under extra_float_digits <= 0 PostgreSQL writes floats rounded to 15 (6) digits;
  // the gateway encoded that text, so 1.0000000000000002 arrived as 1 (3ff0000000000000 instead
  // of 3ff0000000000001). It now refuses float binary in such a session (0A000) instead.
  it.each([
    ["SET", "set extra_float_digits = 0", {}],
    ["SET to a negative value", "set extra_float_digits to -3", {}],
    ["set_config", "select set_config('extra_float_digits', '-15', false)", {}],
    ["a startup parameter", null, { extra_float_digits: "0" }],
  ] as const)("never sends a float rounded by extra_float_digits <= 0 (%s)", async (_what, setup, startup) => {
    const r = await refusedOrSame("select 1.0000000000000002::float8 as f, '{0.1,16777217}'::float4[] as a", setup, startup);
    expect(r.direct.find((m) => m.includes("DataRow"))).toContain("3ff0000000000001");
    expect(r.gateway.join()).not.toContain("DataRow");
    expect(r.gateway).toContain("ErrorResponse 0A000");
  });

  it("still converts floats under extra_float_digits > 0 and other types after a rounding SET", async () => {
    const r = await refusedOrSame("select 1.0000000000000002::float8 as f", "set extra_float_digits = 3");
    expect(r.gateway).toEqual(r.direct);
    const ints = await refusedOrSame("select 12345678901234::int8 as i, 1.5::numeric as n", "set extra_float_digits = 0");
    expect(ints.gateway).toEqual(ints.direct);
  });

  // Regression: float4 text was read as a double and then rounded to a float; for a decimal just
  // off a midpoint between two floats that rounds twice, the wrong way (15ae43fe instead of
  // PostgreSQL's 15ae43fd for 7.038531e-26). binary-results.ts nearestFloat32 decides it exactly.
  it("encodes a float4 whose decimal lies next to a midpoint as float4in reads it", async () => {
    const r = await refusedOrSame("select '7.038531e-26'::float4 as f, '{-7.038531e-26}'::float4[] as a", null);
    expect(r.direct.join()).toContain("15ae43fd");
    expect(r.gateway).toEqual(r.direct);
  });

  it("sends every unmasked value in binary exactly as PostgreSQL does", async () => {
    await fc.assert(
      fc.asyncProperty(settings, fc.array(value, { minLength: 1, maxLength: 12 }), async (s, values) => {
        const { d, g } = await both(s, values);
        expect(g[0], setQuery(s)).toEqual(d[0]);
        values.forEach((v, i) => expect(g[i + 1], `${JSON.stringify(v)} under ${setQuery(s)}`).toEqual(d[i + 1]));
      }),
      { numRuns: Number(process.env.BINDIFF_RUNS ?? 1500) },
    );
  }, 300_000);
});
