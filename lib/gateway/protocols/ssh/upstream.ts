import ssh2, { type Client as SshClient, type ConnectConfig, type ParsedKey, type PublicKeyAuthMethod } from "ssh2";
import type { Db } from "@/db/client";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { GatehouseError } from "@/lib/gateway/core/types";
import { pinHostKey } from "@/lib/services/connections/pin-host-key";
import { explainUpstreamHandshake, sha2OnlyKey, upstreamAlgorithms } from "./algorithms";
import { sshFingerprint } from "./host-key";

const { utils } = ssh2; // CommonJS: named exports are not visible to Node's ESM loader

const CONNECT_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_UPSTREAM_TIMEOUT_MS ?? 15_000);

/**
 * Opens the SSH connection to the upstream host with the credential Gatehouse holds (a private
 * key when the stored secret is one, a password otherwise). The host key must match the pin in
 * the connection's `options.hostKey` ("SHA256:..."); with no pin, the first key seen is pinned
 * (trust on first use, audited). A mismatch refuses the session: that is the one moment a
 * man in the middle could take over every session to that host.
 *
 * The algorithms are the listener's modern set (algorithms.ts, GATEHOUSE_SSH_UPSTREAM_*): a host
 * that offers only SHA-1, MD5 or CBC ones is refused at key exchange, naming what it lacks.
 */
export async function connectUpstream(db: Db, target: UpstreamTarget, opts: { agent?: InstanceType<typeof ssh2.BaseAgent> } = {}): Promise<SshClient> {
  const client = new ssh2.Client();
  const secret = target.secret ?? "";
  const isKey = /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret.trim());
  /** why Gatehouse itself refused the host (its host key, a SHA-1 signature it asked for) */
  let refusal: string | null = null;
  const username = target.username || decodeURIComponent(target.url.username) || "root";
  const privateKey = isKey ? storedKey(secret, (why) => (refusal = why)) : null;
  const config: ConnectConfig = {
    host: target.url.hostname,
    port: Number(target.url.port || 22),
    username,
    readyTimeout: CONNECT_TIMEOUT_MS,
    keepaliveInterval: 15_000,
    algorithms: upstreamAlgorithms(),
    // The client's forwarded agent (agent-forward.ts) serves only the upstream's sessions:
    // Gatehouse authenticates with its own credential, never with the user's keys.
    // (Not `agentForward: true` here: ssh2 would then ask for the agent on every channel; the
    // channels the policy allowed ask for it themselves.)
    ...(privateKey
      ? { authHandler: [{ type: "publickey", username, key: privateKey }] as PublicKeyAuthMethod[] }
      : { password: secret, tryKeyboard: true, ...(opts.agent ? { authHandler: ["password", "keyboard-interactive"] } : {}) }),
    ...(opts.agent ? { agent: opts.agent } : {}),
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      const seen = sshFingerprint(key);
      const pinned = typeof target.options.hostKey === "string" && target.options.hostKey ? target.options.hostKey : null;
      const decide = (expected: string) => {
        if (expected !== seen) refusal = `the upstream host key changed (expected ${expected}, got ${seen}); refusing the session`;
        verify(expected === seen);
      };
      if (pinned) return decide(pinned);
      pinHostKey(db, target.ref.id, seen).then(decide, (err) => {
        refusal = `could not pin the upstream host key: ${(err as Error).message}`;
        verify(false);
      });
    },
  };
  if (!isKey) {
    // Some servers only offer keyboard-interactive for passwords.
    client.on("keyboard-interactive", (_name, _instr, _lang, prompts, finish) => finish(prompts.map(() => secret)));
  }
  return new Promise<SshClient>((resolve, reject) => {
    const fail = (err: Error) => {
      client.removeAllListeners("ready");
      // ssh2 may go on to report more (a refused signature, then "all methods failed")
      client.on("error", () => {});
      client.end();
      const explained = refusal ?? explainUpstreamHandshake(err);
      const message = explained ?? (/authentication/i.test(err.message) ? "the upstream refused Gatehouse's stored credential" : `cannot reach the upstream host: ${err.message}`);
      if (explained) console.error(`[ssh] connection ${target.ref.name}: ${explained}`);
      reject(new GatehouseError("UNAVAILABLE", message));
    };
    client.once("error", fail);
    client.once("ready", () => {
      client.off("error", fail);
      client.on("error", (err) => console.error(`[ssh] upstream ${target.ref.name}: ${err.message}`));
      resolve(client);
    });
    client.connect(config);
  });
}

/** The stored private key, parsed; an RSA one signs only with SHA-2 (sha2OnlyKey). */
function storedKey(secret: string, refuse: (why: string) => void): ParsedKey {
  const parsed = utils.parseKey(secret);
  if (parsed instanceof Error) throw new GatehouseError("UNAVAILABLE", "Gatehouse's stored private key for this host cannot be read");
  return sha2OnlyKey(Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed, refuse);
}
