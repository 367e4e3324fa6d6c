import { describe, expect, it } from "vitest";
import { compileMasker } from "./masker";
import { createStreamMasker } from "./stream";
import { DETECTOR_NAMES } from "./catalog";
import type { MaskingRule } from "./types";

const all: MaskingRule = { id: "all", name: "all", enabled: true, detectors: [...DETECTOR_NAMES], columns: [], style: "redact" };
const masker = compileMasker([all], { hashKey: "k" });

/** Feed chunks, flush at the end, return everything emitted. */
function run(chunks: string[], m = masker): string {
  const s = createStreamMasker(m);
  return chunks.map((c) => s.push(c)).join("") + s.flush();
}

const LINES = [
  "card 4111 1111 1111 1111 exp 12/29\r\n",
  "mail alice.smith@example.com now\n",
  "ssn 123-45-6789 ip 10.20.30.40 v6 2001:db8::7\n",
  "token eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl end\n",
  "\x1b[1;31mIBAN DE89 3704 0044 0532 0130 00\x1b[0m\n",
];

describe("stream masker", () => {
  it("masks values split at every possible position the same as whole text", () => {
    for (const line of LINES) {
      const expected = masker.maskText(line);
      expect(expected).not.toBe(line);
      for (let cut = 0; cut <= line.length; cut++) {
        expect(run([line.slice(0, cut), line.slice(cut)]), `${JSON.stringify(line)} cut at ${cut}`).toBe(expected);
      }
    }
  });

  it("masks values delivered one character at a time", () => {
    const text = LINES.join("");
    expect(run([...text])).toBe(masker.maskText(text));
  });

  it("never emits a held secret before it is complete", () => {
    const s = createStreamMasker(masker);
    // Letters, digits and spaces may all belong to a match, so the line tail is held...
    expect(s.push("pay 4111 1111")).toBe("");
    expect(s.push(" 1111 1111 ok\n")).toBe("pay [REDACTED:card] ok\n");
    // ...but a character that no match contains (here ';') releases what is before it.
    expect(s.push("to: carol; bob")).toBe("to: carol; ");
    expect(s.push("@example.com")).toBe("");
    expect(s.flush()).toBe("[REDACTED:email]");
  });

  it("does not hold back prompts, and releases everything at a newline", () => {
    const s = createStreamMasker(masker);
    expect(s.push("user@host:~$ ")).toBe("user@host:~$ ");
    expect(s.push("plain words\n")).toBe("plain words\n");
    expect(s.push("\x1b[32mok\x1b[0m ")).toBe("\x1b[32mok\x1b[0m ");
  });

  it("bounds what it holds back", () => {
    const s = createStreamMasker(masker, { maxHold: 64 });
    const out = s.push("a".repeat(1000));
    expect(out.length).toBe(1000 - 64);
    expect(s.flush()).toBe("a".repeat(64));
  });

  it("never splits an ANSI escape sequence between emits", () => {
    const s = createStreamMasker(masker);
    const first = s.push("done \x1b[38;5");
    expect(first).toBe("done ");
    expect(s.push(";196mred\x1b[0m\n")).toBe("\x1b[38;5;196mred\x1b[0m\n");
  });

  it("holds the whole line tail when admin patterns may match any character", () => {
    const m = compileMasker([{ ...all, id: "dict", detectors: [], dictionary: ["blue moon!"] }], { hashKey: "k" });
    expect(run(["it was a blue", " moon! again\n"], m)).toBe("it was a [REDACTED:dictionary] again\n");
  });

  it("passes text straight through when there is nothing to mask", () => {
    const s = createStreamMasker(compileMasker([], { hashKey: "k" }));
    expect(s.push("4111 1111")).toBe("4111 1111");
    expect(s.flush()).toBe("");
  });
});

describe("stream masker: private keys", () => {
  const body = ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun", "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK", "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo"];
  const key = ["-----BEGIN RSA PRIVATE KEY-----", ...body, "-----END RSA PRIVATE KEY-----"].join("\n");

  it("masks a key printed in one chunk like maskText does", () => {
    expect(run([`$ cat id_rsa\n${key}\n$ `])).toBe("$ cat id_rsa\n[REDACTED:private-key]\n$ ");
  });

  it("swallows key lines that arrive in later chunks and resumes after END", () => {
    const chunks = ["$ cat id_rsa\n-----BEGIN RSA PRI", "VATE KEY-----\n", `${body[0]}\n${body[1].slice(0, 20)}`, `${body[1].slice(20)}\n`, `${body[2]}\n-----END RSA`, " PRIVATE KEY-----\n$ echo done\ndone\n"];
    const out = run(chunks);
    expect(out).toBe("$ cat id_rsa\n[REDACTED:private-key]\n$ echo done\ndone\n");
    for (const line of body) expect(out).not.toContain(line.slice(0, 16));
  });

  it("stops swallowing at the first line that is not key material (output truncated by head)", () => {
    const out = run(["-----BEGIN PRIVATE KEY-----\n", `${body[0]}\n`, `${body[1]}\n`, "$ ls\nfile.txt\n"]);
    expect(out).toBe("[REDACTED:private-key]\n$ ls\nfile.txt\n");
  });

  it("keeps swallowing across an idle flush in the middle of a key line", () => {
    const s = createStreamMasker(masker);
    let out = s.push(`-----BEGIN PRIVATE KEY-----\n${body[0].slice(0, 10)}`);
    out += s.flush();
    out += s.push(`${body[0].slice(10)}\n-----END PRIVATE KEY-----\nafter\n`);
    expect(out).toBe("[REDACTED:private-key]\nafter\n");
    expect(out).not.toContain(body[0].slice(0, 10));
  });
});
