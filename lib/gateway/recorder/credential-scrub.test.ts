import { describe, expect, it } from "vitest";
import { placeholder, scrubBytes, scrubJson, scrubText } from "./credential-scrub";

const TOKEN = `eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJlbWFpbCI6ImFAYi5jIiwiaXNzIjoiZ2F0ZWhvdXNlIn0.${"Sig_-0".repeat(14)}`;
const SECRET = `gatehouse-console:${"A".repeat(40)}b-_`;

/** Feeds `chunks` as a stream does (hold carried into the next), returns what would be recorded. */
function stream(chunks: string[]): string {
  let carry: Buffer = Buffer.alloc(0);
  let out = "";
  for (const c of chunks) {
    const { body, hold } = scrubBytes(Buffer.concat([carry, Buffer.from(c)]), false);
    out += body.toString();
    carry = hold ?? Buffer.alloc(0);
  }
  return out + scrubBytes(carry, true).body.toString();
}

describe("credential scrubbing", () => {
  it("replaces tokens and console secrets with placeholders of the same length", () => {
    const text = `$ echo ${TOKEN}\r\n${TOKEN}\r\nsecret end`;
    const out = stream([text]);
    expect(out).not.toContain(TOKEN);
    expect(out.length).toBe(text.length);
    expect(out).toContain(`$ echo ${placeholder(TOKEN.length)}\r\n`);
    expect(out).toMatch(/ end$/);
    expect(scrubJson(JSON.stringify({ text: `select '${TOKEN}'`, rows: [[SECRET]] }))).toBe(JSON.stringify({ text: `select '${placeholder(TOKEN.length)}'`, rows: [[placeholder(SECRET.length)]] }));
  });

  it("a credential split across writes at any point, or typed a character at a time, never reaches the recording", () => {
    const text = `x ${TOKEN} y ${TOKEN.slice(0, 40)} z ${TOKEN}`;
    for (let cut = 1; cut < text.length; cut++) {
      const out = stream([text.slice(0, cut), text.slice(cut)]);
      expect(out).toBe(stream([text]));
    }
    expect(stream([...text])).toBe(stream([text]));
  });

  it("escape sequences and readline's wrap inside a typed token do not hide it", () => {
    const out = stream([`${TOKEN.slice(0, 50)} \r${TOKEN.slice(50, 90)}\x1b[K\x1b[1C${TOKEN.slice(90)}\r\n`]);
    for (const part of [TOKEN.slice(10, 50), TOKEN.slice(50, 90), TOKEN.slice(90)]) expect(out).not.toContain(part);
    expect(out).toContain("\x1b[K");
  });

  it("leaves what is not a credential alone, and holds back only a possible start", () => {
    const plain = "eyJ-not-a-token ey e gate gatehouse-console:spent eyJabc.def.ghi";
    expect(stream([plain])).toBe(plain);
    expect(scrubBytes(Buffer.from("hello e"), false).hold?.toString()).toBe("e");
    expect(scrubBytes(Buffer.from("hello ey"), false).hold?.toString()).toBe("ey");
    expect(scrubBytes(Buffer.from("hello\n"), false).hold).toBeNull();
    expect(scrubText(`${TOKEN}\r`, true).text).toBe(`${placeholder(TOKEN.length)}\r`);
    // a CR right after may be readline's wrap: held until the next write says
    expect(scrubText(`${TOKEN}\r`, false)).toEqual({ text: "", hold: `${TOKEN}\r` });
    const p = placeholder(TOKEN.length + 1);
    expect(stream([`${TOKEN.slice(0, 80)}\r${TOKEN.slice(79)}\r\n`])).toBe(`${p.slice(0, 80)}\r${p.slice(80)}\r\n`);
  });
});
