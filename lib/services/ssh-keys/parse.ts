import { createHash, createPublicKey } from "node:crypto";
import { utils } from "ssh2";
import { GatehouseError } from "@/lib/gateway/core/types";

/**
 * Turns one pasted OpenSSH public key line (`ssh-ed25519 AAAA... comment`) into what the SSH
 * gateway will look up: the algorithm and the canonical wire-format blob. Anything else — a
 * private key, a certificate, a weak or unsupported key, a blob that does not match its own
 * type — is refused with a message that tells the user what to paste instead. Error messages
 * never echo the input: a pasted private key must not end up in logs or responses.
 */

export interface ParsedSshKey {
  algorithm: string;
  /** base64 of the wire-format blob, canonical (exactly what an SSH client presents) */
  publicKey: string;
  /** `SHA256:<base64, no padding>`, identical to `ssh-keygen -lf` */
  fingerprint: string;
  comment: string;
  bits: number;
}

export const SUPPORTED_ALGORITHMS = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-rsa"] as const;
const SUPPORTED: ReadonlySet<string> = new Set(SUPPORTED_ALGORITHMS);

export const MIN_RSA_BITS = 2048;
/** OpenSSH refuses larger RSA keys; so do we, so a paste cannot make every lookup expensive. */
const MAX_RSA_BITS = 16384;
const MAX_INPUT = 16 * 1024;

const invalid = (message: string) => new GatehouseError("INVALID", message);

export function sshFingerprint(blob: Buffer): string {
  return "SHA256:" + createHash("sha256").update(blob).digest("base64").replace(/=+$/, "");
}

export function parseSshPublicKey(text: string): ParsedSshKey {
  if (text.length > MAX_INPUT) throw invalid("that is too long for an SSH public key; paste the single line from your .pub file");
  const trimmed = text.trim();
  if (!trimmed) throw invalid("paste a public key, e.g. the contents of ~/.ssh/id_ed25519.pub");
  if (/PRIVATE KEY|PuTTY-User-Key-File/.test(trimmed)) {
    throw invalid("that is a private key: never share it. Register the public key instead (the .pub file, e.g. ~/.ssh/id_ed25519.pub)");
  }
  if (trimmed.startsWith("---- BEGIN SSH2 PUBLIC KEY")) {
    throw invalid("that is an RFC 4716 (SSH2) public key; convert it to one OpenSSH line with `ssh-keygen -i -f FILE`");
  }
  const lines = trimmed.split(/\r?\n/).filter((l) => l.trim() && !l.trim().startsWith("#"));
  if (lines.length !== 1) throw invalid("paste exactly one public key (one line); add several keys one at a time");

  const [type = "", data = "", ...rest] = lines[0].trim().split(/\s+/);
  const comment = rest.join(" ");
  checkType(type, lines[0]);

  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw invalid("the key data (second field) is not valid base64; paste the line exactly as in the .pub file");
  const blob = Buffer.from(data, "base64");
  // Buffer.from is lenient (drops stray padding, trailing bits): only the canonical form may be stored.
  if (blob.toString("base64") !== data) throw invalid("the key data (second field) is not valid base64; paste the line exactly as in the .pub file");

  // The blob names its own type; a line saying ssh-ed25519 over a certificate or an RSA blob is refused.
  const inner = readSshString(blob);
  if (inner === null) throw invalid("the key data is truncated or malformed");
  if (inner !== type) throw invalid(`the key type in the line (${type}) does not match the key data (${printable(inner)})`);

  const parsed = utils.parseKey(`${type} ${data}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw invalid(`not a valid ${type} public key (the key data is malformed)`);
  if (key.isPrivateKey()) throw invalid("that is a private key: never share it. Register the public key instead (the .pub file)");
  if (key.type !== type) throw invalid(`the key type in the line (${type}) does not match the key data`);
  // ssh2 re-encodes the blob from its parsed parts: a difference means trailing bytes or a non-canonical encoding.
  if (!key.getPublicSSH().equals(blob)) throw invalid(`not a valid ${type} public key (unexpected bytes in the key data)`);

  const bits = keyBits(type, key.getPublicPEM());
  if (type === "ssh-rsa" && bits < MIN_RSA_BITS) throw invalid(`RSA keys must have at least ${MIN_RSA_BITS} bits (this one has ${bits}); generate one with \`ssh-keygen -t ed25519\``);
  if (type === "ssh-rsa" && bits > MAX_RSA_BITS) throw invalid(`RSA keys may have at most ${MAX_RSA_BITS} bits (this one has ${bits})`);
  if (type.startsWith("ecdsa-") && `ecdsa-sha2-nistp${bits}` !== type) throw invalid(`the curve of the key data does not match ${type}`);

  return { algorithm: type, publicKey: data, fingerprint: sshFingerprint(blob), comment, bits };
}

function checkType(type: string, line: string) {
  if (SUPPORTED.has(type)) return;
  if (type.includes("-cert-v0")) {
    throw invalid("SSH certificates are not accepted: Gatehouse trusts no certificate authority. Register the plain public key (the .pub file without -cert)");
  }
  if (type === "ssh-dss") throw invalid("DSA keys are insecure and no longer accepted (OpenSSH disabled them too); generate one with `ssh-keygen -t ed25519`");
  if (type.startsWith("sk-")) throw invalid("security-key keys (sk-ssh-ed25519, sk-ecdsa) are not supported by the SSH gateway yet; register an ed25519, ECDSA or RSA key");
  // An authorized_keys line may start with options: `from="10.0.0.1",command="..." ssh-ed25519 AAAA...`.
  if (/\s(ssh-|ecdsa-|sk-)\S+\s+AAAA/.test(line)) {
    throw invalid("authorized_keys options (from=, command=, ...) are not accepted; paste only the key: `TYPE BASE64 [comment]`");
  }
  if (/^[a-z0-9@.-]{1,64}$/.test(type) && /^(ssh|ecdsa|rsa)/.test(type)) {
    throw invalid(`unsupported key type ${type}; supported: ${SUPPORTED_ALGORITHMS.join(", ")}`);
  }
  throw invalid("that is not an OpenSSH public key; expected one line like `ssh-ed25519 AAAAC3Nza... you@laptop` (the contents of your .pub file)");
}

/** The first length-prefixed string of an SSH wire blob, or null when the blob is too short. */
function readSshString(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 256 || 4 + len > blob.length) return null;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** Key size in bits; also proves OpenSSL accepts the key (an invalid EC point throws here). */
function keyBits(type: string, pem: string | null): number {
  if (!pem) throw invalid(`not a valid ${type} public key`);
  let details;
  try {
    details = createPublicKey(pem).asymmetricKeyDetails;
  } catch {
    throw invalid(`not a valid ${type} public key (the key data is malformed)`);
  }
  if (type === "ssh-rsa") return details?.modulusLength ?? 0;
  if (type === "ssh-ed25519") return 256;
  return { "prime256v1": 256, "secp384r1": 384, "secp521r1": 521 }[details?.namedCurve ?? ""] ?? 0;
}

function printable(s: string) {
  return /^[\x21-\x7e]{1,64}$/.test(s) ? s : "unreadable";
}
