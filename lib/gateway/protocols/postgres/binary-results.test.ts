import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPostgres15, type Postgres15 } from "@/tests/support/postgres";
import { binaryConvertible, textToBinary } from "./binary-results";
import { connectUpstream, type UpstreamConnection } from "./upstream";
import { build, parseBackendMessage, type BackendMessage } from "./wire";

/**
 * The text → binary encoders against a real PostgreSQL 15 as the oracle: for every value the
 * server's own text output and its own binary output (Bind with result format 1) are fetched,
 * and the encoder must turn the first into exactly the second.
 */

const CASES: [string, string[]][] = [
  ["bool", ["true", "false"]],
  ["int2", ["0", "-32768", "32767", "42"]],
  ["int4", ["0", "-2147483648", "2147483647", "-7"]],
  ["int8", ["0", "-9223372036854775808", "9223372036854775807", "1234567890123"]],
  ["oid", ["0", "4294967295", "16384"]],
  ["float4", ["0", "-0", "1.5", "3.4028235e38", "1e-45", "0.1", "'NaN'", "'Infinity'", "'-Infinity'", "123456.79"]],
  ["float8", ["0", "-0", "0.1", "1e308", "5e-324", "-1234.5678", "'NaN'", "'Infinity'", "'-Infinity'", "1.0000000000000002"]],
  [
    "numeric",
    ["0", "0.00", "-0.5", "1", "10000", "123456789.987654321", "0.0001", "0.00001234", "-99999999999999999999.5", "1e20", "'NaN'", "'Infinity'", "'-Infinity'", "1234.50"],
  ],
  ["numeric(12,2)", ["1234.5", "-17.25", "0"]],
  ["text", ["''", "'héllo wörld ✓'", "'a\\tb'", "E'line\\nbreak'"]],
  ["varchar(20)", ["'abc'"]],
  ["bpchar(5)", ["'ab'"]],
  ["name", ["'pg_class'"]],
  ['"char"', ["'a'", "'\\xe9'::bytea::text::\"char\"", "''"]],
  ["bytea", ["'\\x'", "'\\x00ff10'", "'hello'"]],
  ["uuid", ["'6ba7b810-9dad-11d1-80b4-00c04fd430c8'", "'00000000-0000-0000-0000-000000000000'"]],
  ["json", ["'{\"a\": [1, 2]}'", "'\"x\"'"]],
  ["jsonb", ["'{\"b\": 1, \"a\": [1, 2.50]}'", "'null'"]],
  ["date", ["'2000-01-01'", "'1999-12-31'", "'1815-12-10'", "'0044-03-15 BC'", "'10000-01-01'", "'infinity'", "'-infinity'", "'2024-02-29'"]],
  ["time", ["'00:00:00'", "'23:59:59.999999'", "'12:34:56.5'", "'24:00:00'"]],
  ["timestamp", ["'2000-01-01 00:00:00'", "'1969-07-20 20:17:40.123456'", "'0044-03-15 12:00:00 BC'", "'294276-12-31 23:59:59'", "'infinity'", "'-infinity'"]],
  ["timestamptz", ["'2024-05-01 12:00:00+00'", "'2024-05-01 12:00:00.5+05:30'", "'1900-01-01 00:00:00+00'", "'infinity'", "'-infinity'"]],
  ["int4[]", ["'{}'", "'{1,2,3}'", "'{{1,2},{3,4}}'", "'{1,NULL,3}'", "'[0:1]={7,8}'"]],
  ["text[]", ["'{a,\"b c\",\"d,e\",\"q\\\"uote\",NULL,\"NULL\",\"back\\\\slash\"}'", "'{{a,b},{c,d}}'", "'{\"\"}'"]],
  ["numeric[]", ["'{1.5,-2,NaN}'"]],
  ["bool[]", ["'{t,f}'"]],
  ["date[]", ["'{2000-01-01,infinity}'"]],
  ["timestamptz[]", ["'{\"2024-05-01 12:00:00+00\"}'"]],
  ["uuid[]", ["'{6ba7b810-9dad-11d1-80b4-00c04fd430c8}'"]],
  ["bytea[]", ["'{\"\\\\\\\\x0102\"}'"]],
];

describe("binary result encoders (against PostgreSQL 15)", () => {
  let pg: Postgres15;
  let up: UpstreamConnection;
  const msgs: BackendMessage[] = [];

  async function run(sql: string, format: 0 | 1, settings = ""): Promise<{ typeOid: number; value: Buffer | null }> {
    msgs.length = 0;
    if (settings) up.socket.write(build.query(settings));
    up.socket.write(Buffer.concat([build.parse({ text: sql }), build.bind({ resultFormats: [format] }), build.describe("P", ""), build.execute(), build.sync()]));
    for (let i = 0; i < 400 && !msgs.some((m) => m.type === "ReadyForQuery" && msgs.some((x) => x.type === "CommandComplete" || x.type === "ErrorResponse")); i++) await new Promise((r) => setTimeout(r, 5));
    const err = msgs.find((m) => m.type === "ErrorResponse");
    if (err) throw new Error(`${sql}: ${JSON.stringify(err)}`);
    const rd = msgs.find((m) => m.type === "RowDescription") as Extract<BackendMessage, { type: "RowDescription" }>;
    const row = msgs.find((m) => m.type === "DataRow") as Extract<BackendMessage, { type: "DataRow" }>;
    return { typeOid: rd.fields[0].typeOid, value: row.values[0] };
  }

  beforeAll(async () => {
    pg = await startPostgres15();
    const url = new URL(pg.url);
    up = await connectUpstream({ ref: { id: "t", name: "t", type: "postgres", tags: [] }, url, username: "postgres", secret: "gatehouse-test", options: {} }, { TimeZone: "Asia/Kolkata" });
    up.socket.on("data", (d) => {
      up.reader.push(d);
      for (let f = up.reader.next(); f; f = up.reader.next()) msgs.push(parseBackendMessage(f));
    });
  });
  afterAll(async () => {
    up?.socket.destroy();
    await pg?.stop();
  });

  for (const [type, values] of CASES) {
    it(`${type}: the server's text output encodes to exactly its binary output`, async () => {
      for (const v of values) {
        const sql = `select (${v})::${type}`;
        const text = await run(sql, 0);
        const binary = await run(sql, 1);
        expect(binaryConvertible(text.typeOid, true), `${type} convertible`).toBe(true);
        const encoded = textToBinary(text.typeOid, text.value!.toString("utf8"));
        expect(encoded?.toString("hex"), `${sql} (text ${text.value})`).toBe(binary.value!.toString("hex"));
      }
    });
  }

  it("bytea in escape output, and timestamptz in another time zone, encode the same", async () => {
    const esc = await run(`select '\\x00015c41ff'::bytea`, 0, "set bytea_output = escape");
    const bin = await run(`select '\\x00015c41ff'::bytea`, 1);
    expect(esc.value!.toString()).toBe("\\000\\001\\\\A\\377");
    expect(textToBinary(17, esc.value!.toString())?.toString("hex")).toBe(bin.value!.toString("hex"));
    const tz = await run(`select '2024-05-01 12:00:00.25+00'::timestamptz`, 0, "set time zone 'America/St_Johns'");
    expect(tz.value!.toString()).toBe("2024-05-01 09:30:00.25-02:30");
    const tzBin = await run(`select '2024-05-01 12:00:00.25+00'::timestamptz`, 1);
    expect(textToBinary(1184, tz.value!.toString())?.toString("hex")).toBe(tzBin.value!.toString("hex"));
  });

  it("masked text that no longer parses as the type encodes to null (withheld), and unknown types are not convertible", () => {
    expect(textToBinary(23, "[REDACTED]")).toBeNull();
    expect(textToBinary(1700, "****5678")).toBeNull();
    expect(textToBinary(1082, "h_3f2a9c")).toBeNull();
    expect(textToBinary(1007, "{1,[REDACTED]}")).toBeNull();
    expect(textToBinary(25, "[REDACTED]")?.toString()).toBe("[REDACTED]");
    expect(binaryConvertible(1186, true)).toBe(false); // interval
    expect(binaryConvertible(600, true)).toBe(false); // point
    expect(binaryConvertible(1114, false)).toBe(false); // timestamp while DateStyle is not ISO
    expect(binaryConvertible(23, false)).toBe(true);
  });
});
