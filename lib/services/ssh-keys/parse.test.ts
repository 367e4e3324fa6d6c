import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GatehouseError } from "@/lib/gateway/core/types";
import { parseSshPublicKey, sshFingerprint } from "./parse";

/**
 * Keys come from the real ssh-keygen, and every fingerprint is compared with what
 * `ssh-keygen -lf` prints for the same file, so a mistake in encoding or hashing cannot hide.
 */
let dir: string;
const keygen = (...args: string[]) => execFileSync("ssh-keygen", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });

function generate(name: string, ...args: string[]) {
  const file = path.join(dir, name);
  keygen("-q", "-N", "", "-C", `${name}@test`, "-f", file, ...args);
  return { file, pub: fs.readFileSync(`${file}.pub`, "utf8"), priv: fs.readFileSync(file, "utf8") };
}

/** `256 SHA256:abc... comment (ED25519)` → { bits, fingerprint } */
function keygenFingerprint(file: string) {
  const [bits, fingerprint] = keygen("-l", "-E", "sha256", "-f", file).trim().split(/\s+/);
  return { bits: Number(bits), fingerprint };
}

function invalidMessage(text: string): string {
  try {
    parseSshPublicKey(text);
  } catch (err) {
    expect(err).toBeInstanceOf(GatehouseError);
    expect((err as GatehouseError).code).toBe("INVALID");
    return (err as Error).message;
  }
  throw new Error("expected the key to be refused");
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-sshkeys-"));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("parseSshPublicKey", () => {
  const cases: [string, string, string[]][] = [
    ["ed25519", "ssh-ed25519", ["-t", "ed25519"]],
    ["ecdsa-256", "ecdsa-sha2-nistp256", ["-t", "ecdsa", "-b", "256"]],
    ["ecdsa-384", "ecdsa-sha2-nistp384", ["-t", "ecdsa", "-b", "384"]],
    ["ecdsa-521", "ecdsa-sha2-nistp521", ["-t", "ecdsa", "-b", "521"]],
    ["rsa-2048", "ssh-rsa", ["-t", "rsa", "-b", "2048"]],
    ["rsa-3072", "ssh-rsa", ["-t", "rsa", "-b", "3072"]],
  ];
  for (const [name, algorithm, args] of cases) {
    it(`accepts ${name} and fingerprints it exactly as ssh-keygen -lf does`, () => {
      const k = generate(name, ...args);
      const parsed = parseSshPublicKey(k.pub);
      const expected = keygenFingerprint(`${k.file}.pub`);
      expect(parsed.fingerprint).toBe(expected.fingerprint);
      expect(parsed.bits).toBe(expected.bits);
      expect(parsed.algorithm).toBe(algorithm);
      expect(parsed.comment).toBe(`${name}@test`);
      // The stored blob is the .pub file's middle field, byte for byte.
      expect(parsed.publicKey).toBe(k.pub.trim().split(/\s+/)[1]);
      expect(sshFingerprint(Buffer.from(parsed.publicKey, "base64"))).toBe(expected.fingerprint);
    });
  }

  it("accepts surrounding whitespace, CRLF and a missing comment", () => {
    const k = generate("plain", "-t", "ed25519");
    const [type, data] = k.pub.trim().split(/\s+/);
    expect(parseSshPublicKey(`\r\n  ${type} ${data}\r\n`).comment).toBe("");
    expect(parseSshPublicKey(`${type}\t${data}  laptop key  `).comment).toBe("laptop key");
  });

  it("refuses private keys without echoing them", () => {
    const k = generate("secret", "-t", "ed25519");
    const msg = invalidMessage(k.priv);
    expect(msg).toMatch(/private key/);
    expect(msg).not.toContain(k.priv.split("\n")[1]);
    const pem = generate("secret-pem", "-t", "rsa", "-b", "2048", "-m", "PEM");
    expect(invalidMessage(pem.priv)).toMatch(/private key/);
  });

  it("refuses RSA keys under 2048 bits", () => {
    const k = generate("rsa-1024", "-t", "rsa", "-b", "1024");
    expect(invalidMessage(k.pub)).toMatch(/at least 2048 bits \(this one has 1024\)/);
  });

  it("refuses DSA keys", () => {
    let pub: string;
    try {
      pub = generate("dsa", "-t", "dsa").pub;
    } catch {
      // An OpenSSH built without DSA: forge the line; the type alone must be refused.
      pub = `ssh-dss ${Buffer.concat([u32str("ssh-dss"), u32str("x")]).toString("base64")} dsa@test`;
    }
    expect(invalidMessage(pub)).toMatch(/DSA keys are insecure/);
  });

  it("refuses certificates, also when dressed up as a plain key", () => {
    const ca = generate("ca", "-t", "ed25519");
    const user = generate("certified", "-t", "ed25519");
    keygen("-q", "-s", ca.file, "-I", "id", "-n", "alice", `${user.file}.pub`);
    const cert = fs.readFileSync(`${user.file}-cert.pub`, "utf8");
    expect(invalidMessage(cert)).toMatch(/certificates are not accepted/);
    // The certificate blob under the plain type: ssh2 alone would read the nonce as a key.
    const disguised = `ssh-ed25519 ${cert.trim().split(/\s+/)[1]}`;
    expect(invalidMessage(disguised)).toMatch(/does not match the key data \(ssh-ed25519-cert-v01@openssh.com\)/);
  });

  it("refuses a blob whose type differs from the line's type", () => {
    const rsa = generate("rsa-mismatch", "-t", "rsa", "-b", "2048");
    expect(invalidMessage(`ssh-ed25519 ${rsa.pub.split(/\s+/)[1]}`)).toMatch(/does not match the key data \(ssh-rsa\)/);
  });

  it("refuses trailing bytes and non-canonical base64 in the key data", () => {
    const k = generate("tamper", "-t", "ed25519");
    const [type, data] = k.pub.trim().split(/\s+/);
    const blob = Buffer.from(data, "base64");
    expect(invalidMessage(`${type} ${Buffer.concat([blob, Buffer.from([0, 0, 0, 1, 0x41])]).toString("base64")}`)).toMatch(/unexpected bytes/);
    // 104-byte ECDSA blob: base64 ends in one "="; without it, or with a stray one, it is not canonical.
    const [ecType, ecData] = generate("tamper-ec", "-t", "ecdsa").pub.trim().split(/\s+/);
    expect(ecData.endsWith("=")).toBe(true);
    expect(invalidMessage(`${ecType} ${ecData.replace(/=+$/, "")}`)).toMatch(/not valid base64/);
    expect(invalidMessage(`${type} ${data}=`)).toMatch(/not valid base64/);
    expect(invalidMessage(`${type} ${data.slice(0, 40)}`)).toMatch(/base64|malformed|truncated/);
    // A truncated ed25519 point: the right type, too few key bytes.
    const short = Buffer.concat([u32str(type), u32str("0123456789")]).toString("base64");
    expect(invalidMessage(`${type} ${short}`)).toMatch(/not a valid ssh-ed25519 public key/);
  });

  it("refuses garbage, several keys, options, RFC 4716 and unsupported types with a hint", () => {
    const a = generate("one", "-t", "ed25519").pub;
    const b = generate("two", "-t", "ed25519").pub;
    expect(invalidMessage("")).toMatch(/paste a public key/);
    expect(invalidMessage("hello world")).toMatch(/not an OpenSSH public key/);
    expect(invalidMessage(`${a}\n${b}`)).toMatch(/exactly one public key/);
    expect(invalidMessage(`from="10.0.0.1" ${a}`)).toMatch(/options/);
    expect(invalidMessage(`sk-ssh-ed25519@openssh.com AAAAGnNrLXNzaC1lZDI1NTE5QG9wZW5zc2guY29t x`)).toMatch(/security-key/);
    expect(invalidMessage(`ssh-xmss@openssh.com AAAA x`)).toMatch(/unsupported key type/);
    const rfc = keygen("-e", "-f", path.join(dir, "one.pub"));
    expect(invalidMessage(rfc)).toMatch(/RFC 4716/);
    expect(invalidMessage("x".repeat(20_000))).toMatch(/too long/);
  });
});

function u32str(s: string) {
  const b = Buffer.from(s, "latin1");
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}
