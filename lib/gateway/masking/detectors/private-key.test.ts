import { describe, expect, it } from "vitest";
import { detect } from "../detect";
import { KEY_LINE_BODY, KEY_LINE_FOOTER, KEY_LINE_OTHER, classifyKeyLine, endsInsideKeyBlock } from "./private-key";

const BODY = ["MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun", "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK", "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo", "9z+40RQzuVaE8AkAFmxZzow3x+VJYKdjykkJ0iT9wCS0DRTXu269V264Vf/3jvre"];
const KEY = ["-----BEGIN RSA PRIVATE KEY-----", ...BODY, "-----END RSA PRIVATE KEY-----"].join("\n");

const blocks = (text: string) => detect(text, ["private-key"]).map((d) => d.value);

describe("private-key detector", () => {
  it("masks the whole block from BEGIN through END", () => {
    expect(blocks(`key:\n${KEY}\nafter`)).toEqual([KEY]);
  });

  it("handles other labels, CRLF and encrypted PEM headers", () => {
    const crlf = KEY.replaceAll("RSA ", "").replaceAll("\n", "\r\n");
    expect(blocks(crlf)).toEqual([crlf]);
    const enc = ["-----BEGIN EC PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED", "DEK-Info: AES-128-CBC,2A4F9D0F7E3B1C5A", "", ...BODY, "-----END EC PRIVATE KEY-----"].join("\n");
    expect(blocks(enc)).toEqual([enc]);
    const openssh = KEY.replaceAll("RSA", "OPENSSH");
    expect(blocks(openssh)).toEqual([openssh]);
  });

  it("handles keys embedded in JSON with escaped newlines", () => {
    const escaped = KEY.replaceAll("\n", "\\n");
    expect(blocks(`{"private_key":"${escaped}\\n","client_email":"x"}`)).toEqual([escaped]);
  });

  it("masks an unterminated block through its last key line, not the prose after it", () => {
    const truncated = ["-----BEGIN PRIVATE KEY-----", BODY[0], BODY[1]].join("\n");
    expect(blocks(`${truncated}\nSome prose follows, here.`)).toEqual([truncated]);
  });

  it("ignores public keys, certificates and BEGIN lines that are not headers", () => {
    expect(blocks(KEY.replaceAll("RSA PRIVATE", "PUBLIC"))).toEqual([]);
    expect(blocks(KEY.replaceAll("RSA PRIVATE KEY", "CERTIFICATE"))).toEqual([]);
    expect(blocks("-----BEGIN PRIVATE KEY is what you grep for")).toEqual([]);
  });

  it("tells the stream whether text ends inside a block", () => {
    expect(endsInsideKeyBlock(`x\n-----BEGIN PRIVATE KEY-----\n${BODY[0]}\n`)).toBe(true);
    expect(endsInsideKeyBlock(`-----BEGIN PRIVATE KEY-----`)).toBe(true);
    expect(endsInsideKeyBlock(`${KEY}\n`)).toBe(false);
    expect(endsInsideKeyBlock(`-----BEGIN PRIVATE KEY-----\n${BODY[0]}\n$ ls\n`)).toBe(false);
  });

  it("classifies lines inside an open block", () => {
    const line = (s: string) => classifyKeyLine(s, 0, s.length);
    expect(line(BODY[0])).toBe(KEY_LINE_BODY);
    expect(line("Proc-Type: 4,ENCRYPTED")).toBe(KEY_LINE_BODY);
    expect(line("-----END PRIVATE KEY-----\r")).toBe(KEY_LINE_FOOTER);
    expect(line("$ whoami")).toBe(KEY_LINE_OTHER);
  });
});
