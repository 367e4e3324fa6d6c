import ssh2, { type Connection, type ServerChannel } from "ssh2";
import { ForwardGate } from "./forward";

const { BaseAgent } = ssh2; // CommonJS: named exports are not visible to Node's ESM loader

/**
 * SSH agent forwarding through the gateway (`ssh -A`), when policy permits the action `forward`
 * with text "agent" for the connection. The upstream connection is given this agent: when a
 * program on the upstream host (say `git` or a further `ssh`) asks for the user's agent, sshd
 * opens an agent channel to Gatehouse, and Gatehouse opens one to the user's client, which
 * answers from the real agent. Keys never leave the user's machine; Gatehouse only relays.
 *
 * It is never used to authenticate Gatehouse itself upstream (no identities, no signing): that
 * uses the credential Gatehouse holds. Until a session channel of this connection was allowed
 * to forward the agent, every request for it is refused.
 */
export class ClientAgentBridge extends BaseAgent {
  readonly gate = new ForwardGate();

  constructor(
    private readonly client: Connection,
    /** an agent channel opened; the function returned learns the bytes each way when it closes */
    private readonly onOpen: () => (bytes: { fromClient: number; toClient: number }) => void,
  ) {
    super();
  }

  getIdentities(cb: (err: Error | null, keys?: never[]) => void) {
    cb(null, []);
  }

  sign(_pubKey: unknown, _data: Buffer, _options: unknown, cb?: (err: Error) => void) {
    (typeof _options === "function" ? (_options as (err: Error) => void) : cb)?.(new Error("Gatehouse does not sign with a forwarded agent"));
  }

  getStream(cb: (err: Error | null, stream?: ServerChannel) => void) {
    if (!this.gate.isOpen) return cb(new Error("agent forwarding was not allowed for this session"));
    openAgentChannel(this.client).then((ch) => {
      if (!this.gate.admit(ch)) return cb(new Error("agent forwarding is no longer allowed for this session"));
      countBytes(ch, this.onOpen());
      cb(null, ch);
    }, cb);
  }
}

/**
 * ssh2 pipes the channel to the upstream host's agent request itself, so the bytes are counted
 * on the channel: what the client's agent sends arrives as data, what it is sent is written.
 */
function countBytes(ch: ServerChannel, onEnd: (bytes: { fromClient: number; toClient: number }) => void) {
  let fromClient = 0;
  let toClient = 0;
  ch.on("data", (d: Buffer) => (fromClient += d.length));
  const write = ch.write.bind(ch) as (chunk: Buffer | string, ...rest: unknown[]) => boolean;
  ch.write = ((chunk: Buffer | string, ...rest: unknown[]) => {
    toClient += typeof chunk === "string" ? Buffer.byteLength(chunk) : chunk.length;
    return write(chunk, ...rest);
  }) as typeof ch.write;
  ch.once("close", () => onEnd({ fromClient, toClient }));
}

interface ServerInternals {
  _chanMgr: { add(wrapper: unknown): number };
  _protocol: { openssh_authAgent(chan: number, initWindow: number, maxPacket: number): void };
}

/**
 * Opens an `auth-agent@openssh.com` channel to the client. ssh2 (1.17) has the protocol message
 * but no public server method for it; this does what its own `x11()`/`forwardOut()` do (register
 * a pending channel, send CHANNEL_OPEN). The agent-forwarding test fails if an ssh2 upgrade
 * changes these internals.
 */
function openAgentChannel(client: Connection): Promise<ServerChannel> {
  const internals = client as unknown as ServerInternals;
  return new Promise((resolve, reject) => {
    const wrapper = Object.assign((err: Error | undefined, channel: ServerChannel) => (err ? reject(err) : resolve(channel)), { type: "auth-agent@openssh.com" });
    const id = internals._chanMgr.add(wrapper);
    if (id === -1) return reject(new Error("no free channels"));
    internals._protocol.openssh_authAgent(id, 2 * 1024 * 1024, 32 * 1024);
  });
}
