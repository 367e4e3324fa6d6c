import ssh2, { type Client as SshClient, type ConnectConfig } from "ssh2";
import type { Db } from "@/db/client";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { GatehouseError } from "@/lib/gateway/core/types";
import { pinHostKey } from "@/lib/services/connections/pin-host-key";
import { sshFingerprint } from "./host-key";

const CONNECT_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_UPSTREAM_TIMEOUT_MS ?? 15_000);

/**
 * Opens the SSH connection to the upstream host with the credential Gatehouse holds (a private
 * key when the stored secret is one, a password otherwise). The host key must match the pin in
 * the connection's `options.hostKey` ("SHA256:..."); with no pin, the first key seen is pinned
 * (trust on first use, audited). A mismatch refuses the session: that is the one moment a
 * man in the middle could take over every session to that host.
 */
export async function connectUpstream(db: Db, target: UpstreamTarget, opts: { agent?: InstanceType<typeof ssh2.BaseAgent> } = {}): Promise<SshClient> {
  const client = new ssh2.Client();
  const secret = target.secret ?? "";
  const isKey = /^-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(secret.trim());
  let hostKeyProblem: string | null = null;
  const config: ConnectConfig = {
    host: target.url.hostname,
    port: Number(target.url.port || 22),
    username: target.username || decodeURIComponent(target.url.username) || "root",
    readyTimeout: CONNECT_TIMEOUT_MS,
    keepaliveInterval: 15_000,
    ...(isKey ? { privateKey: secret } : { password: secret, tryKeyboard: true }),
    // The client's forwarded agent (agent-forward.ts) serves only the upstream's sessions:
    // Gatehouse authenticates with its own credential, never with the user's keys.
    // (Not `agentForward: true` here: ssh2 would then ask for the agent on every channel; the
    // channels the policy allowed ask for it themselves.)
    ...(opts.agent ? { agent: opts.agent, authHandler: isKey ? ["publickey"] : ["password", "keyboard-interactive"] } : {}),
    hostVerifier: (key: Buffer, verify: (ok: boolean) => void) => {
      const seen = sshFingerprint(key);
      const pinned = typeof target.options.hostKey === "string" && target.options.hostKey ? target.options.hostKey : null;
      const decide = (expected: string) => {
        if (expected !== seen) hostKeyProblem = `the upstream host key changed (expected ${expected}, got ${seen}); refusing the session`;
        verify(expected === seen);
      };
      if (pinned) return decide(pinned);
      pinHostKey(db, target.ref.id, seen).then(decide, (err) => {
        hostKeyProblem = `could not pin the upstream host key: ${(err as Error).message}`;
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
      client.end();
      const message = hostKeyProblem ?? (/authentication/i.test(err.message) ? "the upstream refused Gatehouse's stored credential" : `cannot reach the upstream host: ${err.message}`);
      if (hostKeyProblem) console.error(`[ssh] connection ${target.ref.name}: ${hostKeyProblem}`);
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
