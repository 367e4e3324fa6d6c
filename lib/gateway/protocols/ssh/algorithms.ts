import type { Algorithms } from "ssh2";

/**
 * The algorithms Gatehouse's SSH listener offers, when an operator pins them (hardening, FIPS):
 * comma-separated, in order of preference. Unset: ssh2's defaults (strict key exchange on).
 */
const KNOBS = {
  cipher: "GATEHOUSE_SSH_CIPHERS",
  kex: "GATEHOUSE_SSH_KEX",
  hmac: "GATEHOUSE_SSH_MACS",
} as const satisfies Partial<Record<keyof Algorithms, string>>;

export function listenerAlgorithms(env: NodeJS.ProcessEnv = process.env): Algorithms {
  const algorithms: Algorithms = {};
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
export function explainAlgorithmError(err: unknown, algorithms: Algorithms): Error {
  const bad = /^Unsupported algorithm: (.+)$/.exec((err as Error).message)?.[1];
  const key = bad && (Object.keys(KNOBS) as (keyof typeof KNOBS)[]).find((k) => (algorithms[k] as string[] | undefined)?.includes(bad));
  return key ? new Error(`${KNOBS[key]}: ssh2 does not support "${bad}"`) : (err as Error);
}
