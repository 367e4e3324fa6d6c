import crypto from "node:crypto";
import type { Algorithms } from "ssh2";

/**
 * The algorithms Gatehouse's SSH listener offers, in order of preference. ssh2's own defaults
 * still offer SHA-1 MACs (`hmac-sha1`, `hmac-sha1-etm@openssh.com`), and its supported lists
 * SHA-1 key exchange and CBC ciphers, which a later ssh2 could move into its defaults: the
 * listener names its own modern set instead, one that OpenSSH ≥ 7.4 clients negotiate (AEAD
 * ciphers or CTR with SHA-2 encrypt-then-MAC, curve25519/ECDH/SHA-2 Diffie-Hellman), so a client
 * asking for SHA-1 or CBC is refused at key exchange, before it authenticates.
 *
 * An operator may pin other lists (hardening, FIPS, an old client): comma-separated, in order of
 * preference; an unknown name stops the start (explainAlgorithmError).
 */
const KNOBS = {
  cipher: "GATEHOUSE_SSH_CIPHERS",
  kex: "GATEHOUSE_SSH_KEX",
  hmac: "GATEHOUSE_SSH_MACS",
} as const satisfies Partial<Record<keyof Algorithms, string>>;

export const DEFAULT_ALGORITHMS: Algorithms = {
  // ChaCha20-Poly1305 where this Node's OpenSSL has it (a FIPS build has not; ssh2 would refuse the name)
  cipher: ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr"].filter(
    (c) => !c.startsWith("chacha20") || crypto.getCiphers().includes("chacha20"),
  ) as Algorithms["cipher"],
  kex: [
    "curve25519-sha256",
    "curve25519-sha256@libssh.org",
    "ecdh-sha2-nistp256",
    "ecdh-sha2-nistp384",
    "ecdh-sha2-nistp521",
    "diffie-hellman-group-exchange-sha256",
    "diffie-hellman-group16-sha512",
    "diffie-hellman-group18-sha512",
    "diffie-hellman-group14-sha256",
  ],
  // ETM first; plain SHA-2 HMACs only for clients without ETM (the AEAD ciphers use no MAC at all)
  hmac: ["hmac-sha2-256-etm@openssh.com", "hmac-sha2-512-etm@openssh.com", "hmac-sha2-256", "hmac-sha2-512"],
  // Signature algorithms, for an operator's RSA host key (GATEHOUSE_SSH_HOST_KEY): SHA-2 first.
  // ssh2 still appends `ssh-rsa` (SHA-1) last for an RSA key; the default Ed25519 key has none.
  serverHostKey: ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256"],
};

export function listenerAlgorithms(env: Readonly<Record<string, string | undefined>> = process.env): Algorithms {
  const algorithms: Algorithms = { ...DEFAULT_ALGORITHMS };
  for (const [key, name] of Object.entries(KNOBS) as [keyof typeof KNOBS, string][]) {
    const list = (env[name] ?? "")
      .split(",")
      .map((a) => a.trim())
      .filter(Boolean);
    if (list.length) algorithms[key] = list as never;
  }
  return algorithms;
}

/** ssh2's "Unsupported algorithm: x" names the setting it came from. */
export function explainAlgorithmError(err: unknown, algorithms: Algorithms, env: Readonly<Record<string, string | undefined>> = process.env): Error {
  const bad = /^Unsupported algorithm: (.+)$/.exec((err as Error).message)?.[1];
  const key = bad && (Object.keys(KNOBS) as (keyof typeof KNOBS)[]).find((k) => env[KNOBS[k]] && (algorithms[k] as string[] | undefined)?.includes(bad));
  return key ? new Error(`${KNOBS[key]}: ssh2 does not support "${bad}"`) : (err as Error);
}
