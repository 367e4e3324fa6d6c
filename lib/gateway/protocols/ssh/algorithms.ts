import crypto from "node:crypto";
import ssh2, { type Algorithms, type ParsedKey } from "ssh2";

/**
 * The algorithms Gatehouse's SSH listener offers, and those its client accepts from upstream
 * hosts, in order of preference. ssh2's own defaults still offer SHA-1 MACs (`hmac-sha1`,
 * `hmac-sha1-etm@openssh.com`) and SHA-1 host key signatures (`ssh-rsa`), and its supported lists
 * SHA-1 key exchange and CBC ciphers, which a later ssh2 could move into its defaults: both legs
 * name their own modern set instead, one that OpenSSH ≥ 7.4 negotiates (AEAD ciphers or CTR with
 * SHA-2 encrypt-then-MAC, curve25519/ECDH/SHA-2 Diffie-Hellman), so a peer that wants SHA-1 or
 * CBC is refused at key exchange, before anything authenticates.
 *
 * An operator may pin other lists for each leg (hardening, FIPS, an old client or host):
 * comma-separated, in order of preference; an unknown name stops the start (explainAlgorithmError).
 */
type Knobs = Partial<Record<keyof Algorithms, string>>;
type Leg = "listener" | "upstream";

const KNOBS = {
  listener: {
    cipher: "GATEHOUSE_SSH_CIPHERS",
    kex: "GATEHOUSE_SSH_KEX",
    hmac: "GATEHOUSE_SSH_MACS",
  },
  // The host key algorithms too: an old host may have nothing but an `ssh-rsa` (SHA-1) one.
  upstream: {
    cipher: "GATEHOUSE_SSH_UPSTREAM_CIPHERS",
    kex: "GATEHOUSE_SSH_UPSTREAM_KEX",
    hmac: "GATEHOUSE_SSH_UPSTREAM_MACS",
    serverHostKey: "GATEHOUSE_SSH_UPSTREAM_HOST_KEY_ALGORITHMS",
  },
} as const satisfies Record<Leg, Knobs>;

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
  // Host key signature algorithms. The listener's, for an operator's RSA host key
  // (GATEHOUSE_SSH_HOST_KEY): ssh2 still appends `ssh-rsa` (SHA-1) last for an RSA key; the
  // default Ed25519 key has none. Upstream, the ones a host's key may be verified with.
  serverHostKey: ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256"],
};

type Env = Readonly<Record<string, string | undefined>>;

export const listenerAlgorithms = (env: Env = process.env): Algorithms => algorithmsOf("listener", env);

export const upstreamAlgorithms = (env: Env = process.env): Algorithms => algorithmsOf("upstream", env);

function algorithmsOf(leg: Leg, env: Env): Algorithms {
  const algorithms: Algorithms = { ...DEFAULT_ALGORITHMS };
  for (const [key, name] of Object.entries(KNOBS[leg]) as [keyof Algorithms, string][]) {
    const list = listOf(env[name]);
    if (list.length) algorithms[key] = list as never;
  }
  return algorithms;
}

const listOf = (value: string | undefined) =>
  (value ?? "")
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);

/**
 * ssh2 checks the client's names only when it connects: the start checks them through a server
 * object (it checks against the same supported lists), so a bad name stops the start on both legs.
 */
export function checkUpstreamAlgorithms(env: Env = process.env): void {
  try {
    new ssh2.Server({ hostKeys: [], algorithms: upstreamAlgorithms(env) }).close();
  } catch (err) {
    throw explainAlgorithmError(err, "upstream", env);
  }
}

/** ssh2's "Unsupported algorithm: x" names the setting it came from. */
export function explainAlgorithmError(err: unknown, leg: Leg, env: Env = process.env): Error {
  const bad = /^Unsupported algorithm: (.+)$/.exec((err as Error).message)?.[1];
  const name = bad && Object.values(KNOBS[leg]).find((n) => listOf(env[n]).includes(bad));
  return name ? new Error(`${name}: ssh2 does not support "${bad}"`) : (err as Error);
}

const MISSING: [RegExp, string, keyof typeof KNOBS.upstream][] = [
  [/no matching key exchange/, "key exchange method", "kex"],
  [/no matching host key/, "host key algorithm", "serverHostKey"],
  [/no matching [CS]->[CS] cipher/, "cipher", "cipher"],
  [/no matching [CS]->[CS] MAC/, "MAC", "hmac"],
];

/**
 * ssh2's "Handshake failed: no matching ..." from an upstream host, as the kind of algorithm the
 * host lacks and the setting that would allow another; null for any other error.
 */
export function explainUpstreamHandshake(err: Error): string | null {
  const missing = MISSING.find(([re]) => re.test(err.message));
  if (!missing) return null;
  const [, what, key] = missing;
  return `the upstream host offers no ${what} that Gatehouse accepts (SHA-1, MD5 and CBC ones are refused; ${KNOBS.upstream[key]} can allow others)`;
}

/**
 * Gatehouse's own RSA key for an upstream host signs only with SHA-2. ssh2 signs with SHA-1
 * (`ssh-rsa`) for a host that announces no rsa-sha2-* (server-sig-algs: OpenSSH < 7.2, some
 * appliances): such a host is refused, through `refuse`, like one offering only legacy algorithms.
 */
export function sha2OnlyKey(key: ParsedKey, refuse: (why: string) => void): ParsedKey {
  if (key.type !== "ssh-rsa") return key;
  const sign = key.sign.bind(key);
  return Object.assign(key, {
    sign(data: Buffer | string, hash?: string) {
      if (hash === "sha256" || hash === "sha512") return sign(data, hash);
      const why = "the upstream host accepts no SHA-2 signature (rsa-sha2-256/512) from Gatehouse's RSA key, only SHA-1 (ssh-rsa), which is refused";
      refuse(why);
      return new Error(why) as unknown as Buffer; // ssh2 takes a returned Error as the failure
    },
  });
}
