import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import ssh2 from "ssh2";

const { utils } = ssh2; // CommonJS: named exports are not visible to Node's ESM loader

/**
 * The gateway's SSH host key: GATEHOUSE_SSH_HOST_KEY (a PEM/OpenSSH private key file) when set,
 * otherwise an Ed25519 key generated once into the data dir. It must persist: a new key on every
 * start would teach users to ignore "REMOTE HOST IDENTIFICATION HAS CHANGED".
 */
export function ensureHostKey(dataDir: string): { key: Buffer; fingerprint: string } {
  const file = process.env.GATEHOUSE_SSH_HOST_KEY ?? path.join(dataDir, "ssh", "ssh_host_ed25519_key");
  // turbopackIgnore: a data-dir path, not a source file (the MCP route bundles this module; without
  // the hint Next traces the whole project into its output)
  if (!fs.existsSync(/*turbopackIgnore: true*/ file)) {
    if (process.env.GATEHOUSE_SSH_HOST_KEY) throw new Error(`GATEHOUSE_SSH_HOST_KEY points at a missing file (${file})`);
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    // Seen on CI: an ssh2-generated key that ssh2 itself then could not parse. Check before keeping
    // it, and write through a temp file so a crash never leaves half a key behind.
    for (let attempt = 1; ; attempt++) {
      const pair = utils.generateKeyPairSync("ed25519", { comment: "gatehouse" });
      if (!(utils.parseKey(pair.private) instanceof Error)) {
        fs.writeFileSync(`${file}.tmp`, pair.private, { mode: 0o600 });
        fs.renameSync(`${file}.tmp`, file);
        fs.writeFileSync(`${file}.pub`, pair.public + "\n");
        break;
      }
      if (attempt === 5) throw new Error("could not generate a readable SSH host key");
    }
  }
  const key = fs.readFileSync(/*turbopackIgnore: true*/ file);
  const parsed = utils.parseKey(key);
  if (parsed instanceof Error) throw new Error(`cannot read the SSH host key ${file}: ${parsed.message}`);
  const pub = (Array.isArray(parsed) ? parsed[0] : parsed).getPublicSSH();
  return { key, fingerprint: sshFingerprint(pub) };
}

/** OpenSSH's fingerprint format: "SHA256:" + unpadded base64 of the wire-format public key. */
export function sshFingerprint(publicKeyBlob: Buffer): string {
  return "SHA256:" + crypto.createHash("sha256").update(publicKeyBlob).digest("base64").replace(/=+$/, "");
}
