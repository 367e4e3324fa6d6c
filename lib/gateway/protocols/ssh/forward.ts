import type { AcceptConnection, Client as UpstreamClient, ClientChannel, Connection, RejectConnection, ServerChannel, TcpipBindInfo, TcpipRequestInfo } from "ssh2";
import type { Decision } from "@/lib/gateway/core/decision";
import type { GatewaySession } from "@/lib/gateway/core/session";
import type { ClassifiedRequest } from "@/lib/gateway/core/types";

/**
 * Port forwarding through the gateway, refused unless policy permits the action `forward` for
 * the connection (the defaults permit none). What reaches policy is `local HOST:PORT` (ssh -L,
 * -D and -W all arrive as direct-tcpip channels; the protocol does not tell them apart) or
 * `remote HOST:PORT` (ssh -R). Every request is recorded with its outcome. When permitted, the
 * forward is carried by the same upstream SSH connection, so the target is reached from the
 * upstream host's network, as with a direct `ssh -L` to that host.
 */
type Opened = () => Promise<{ gw: GatewaySession; upstream: UpstreamClient }>;

type Allowed = Extract<Decision, { type: "allow" }>;
type Decided = { gw: GatewaySession; upstream: UpstreamClient; request: ClassifiedRequest; decision: Decision };

const allowed = (d: Decided | null): d is Decided & { decision: Allowed } => d?.decision.type === "allow";

/** An allowed remote forward's upstream listener, keyed as ssh2 and sshd name it: "bindAddr:port". */
interface RemoteBind {
  channels: Set<ServerChannel>;
  release: () => void;
}

export class Forwarding {
  private readonly remote = new Map<string, RemoteBind>();
  private listening = false;

  constructor(
    private readonly client: Connection,
    private readonly opened: Opened,
    private readonly address: string,
  ) {}

  private async decide(type: "local" | "remote", target: string): Promise<Decided | null> {
    let o;
    try {
      o = await this.opened();
    } catch {
      return null;
    }
    const request: ClassifiedRequest = { action: "forward", kind: "admin", tables: [], functions: [], text: `${type} ${target}` };
    const decision = await o.gw.decide(request);
    const ok = decision.type === "allow";
    o.gw.recorder.record("forward", { type, target, allowed: ok, ...(ok ? {} : { reason: decision.type === "deny" ? decision.reason : "" }) });
    return { ...o, request, decision };
  }

  /**
   * Refusal without a policy question (kinds Gatehouse does not carry), still recorded: recorded
   * first, then refused, as a client (ExitOnForwardFailure) may disconnect at the refusal and
   * the session end before a later record could land.
   */
  refuse(reject: RejectConnection | (() => void), type: string, target: string) {
    this.opened()
      .then(({ gw }) => gw.recorder.record("forward", { type, target, allowed: false, reason: "not supported" }))
      .catch(() => {})
      .finally(() => reject());
  }

  onDirectTcpip(accept: AcceptConnection<ServerChannel>, reject: RejectConnection, info: TcpipRequestInfo) {
    void (async () => {
      const target = `${info.destIP}:${info.destPort}`;
      const d = await this.decide("local", target);
      if (!allowed(d)) return prohibited(this.client, reject, d?.decision.type === "deny" ? d.decision.reason : "the session is not open");
      d.upstream.forwardOut(info.srcIP || "127.0.0.1", info.srcPort || 0, info.destIP, info.destPort, (err, up) => {
        // The host's own refusal, passed on as it gave it ("connect failed: Connection refused"),
        // as a direct `ssh -L` to that host would print it.
        if (err) return refuseOpen(this.client, reject, ...upstreamRefusal(err));
        const channel = accept();
        const ended = forwardEnded(d.gw, "local", target);
        let release = () => {};
        pipe(channel, up, (bytes) => {
          release();
          ended(bytes);
        });
        // Open for as long as the client keeps it: cut if policy stops allowing it.
        release = d.gw.stand(d.request, d.decision, () => cut(channel));
      });
    })().catch(() => prohibited(this.client, reject, "forwarding failed"));
  }

  onGlobalRequest(accept: ((port?: number) => void) | undefined, reject: (() => void) | undefined, name: string, info: TcpipBindInfo | unknown) {
    // ssh -R /path:host:port: a listener on a unix socket upstream, which Gatehouse does not carry.
    // Refused like the local kind (openssh.streamlocal), and recorded as every refused forward is.
    if (name === "streamlocal-forward@openssh.com") return this.refuse(() => reject?.(), "remote", `unix socket ${(info as { socketPath?: string })?.socketPath ?? ""}`);
    if (name !== "tcpip-forward" && name !== "cancel-tcpip-forward") return reject?.();
    const bind = info as TcpipBindInfo;
    void (async () => {
      if (name === "cancel-tcpip-forward") {
        const o = await this.opened();
        const key = `${bind.bindAddr}:${bind.bindPort}`;
        this.remote.get(key)?.release();
        this.remote.delete(key);
        return o.upstream.unforwardIn(bind.bindAddr, bind.bindPort, () => accept?.());
      }
      const d = await this.decide("remote", `${bind.bindAddr}:${bind.bindPort}`);
      if (!allowed(d)) return reject?.();
      d.upstream.forwardIn(bind.bindAddr, bind.bindPort, (err, port) => {
        if (err) return reject?.();
        accept?.(port);
        const key = `${bind.bindAddr}:${port}`;
        const entry: RemoteBind = { channels: new Set(), release: () => {} };
        // The listener stays open until cancelled: taken down, with its connections, if policy
        // stops allowing it (its connections first: the upstream may already be gone).
        entry.release = d.gw.stand(d.request, d.decision, () => {
          if (this.remote.get(key) === entry) this.remote.delete(key);
          for (const ch of entry.channels) cut(ch);
          try {
            d.upstream.unforwardIn(bind.bindAddr, port, () => {});
          } catch {
            // not connected any more: nothing listens upstream
          }
        });
        this.remote.get(key)?.release();
        this.remote.set(key, entry);
        this.listen(d.gw, d.upstream);
      });
    })().catch(() => reject?.());
  }

  /** Connections arriving at an allowed upstream listener come back to the client as forwarded-tcpip. */
  private listen(gw: GatewaySession, upstream: UpstreamClient) {
    if (this.listening) return;
    this.listening = true;
    upstream.on("tcp connection", (details, acceptUp, rejectUp) => {
      const key = `${details.destIP}:${details.destPort}`;
      if (!this.remote.has(key)) return rejectUp();
      this.client.forwardOut(details.destIP, details.destPort, details.srcIP, details.srcPort, (e, ch) => {
        if (e) return rejectUp();
        // Still allowed? The bind may have been revoked while the client opened the channel.
        const bound = this.remote.get(key);
        if (!bound) {
          ch.close();
          return rejectUp();
        }
        bound.channels.add(ch);
        ch.once("close", () => bound.channels.delete(ch));
        pipe(ch, acceptUp(), forwardEnded(gw, "remote", `${details.destIP}:${details.destPort} from ${details.srcIP}:${details.srcPort}`));
      });
    });
  }
}

/**
 * Whether one kind of connection-wide forwarding (agent, X11) is allowed now, and its open
 * channels: withdrawing it (policy no longer allows it) closes them and refuses later ones.
 */
export class ForwardGate {
  private allowed = false;
  private readonly open = new Set<ServerChannel>();

  get isOpen() {
    return this.allowed;
  }

  allow() {
    this.allowed = true;
  }

  withdraw() {
    this.allowed = false;
    for (const ch of this.open) cut(ch);
  }

  /** Tracks a channel opened while allowed; one whose opening raced a withdrawal is closed: false. */
  admit(ch: ServerChannel): boolean {
    if (!this.allowed) {
      ch.close();
      return false;
    }
    this.open.add(ch);
    ch.once("close", () => this.open.delete(ch));
    return true;
  }
}

/**
 * Refuses a channel open as "administratively prohibited" with Gatehouse's reason, as sshd does
 * for a forward its configuration forbids.
 */
const ADMINISTRATIVELY_PROHIBITED = 1;
const CONNECT_FAILED = 2;

function prohibited(client: Connection, reject: RejectConnection, reason: string) {
  refuseOpen(client, reject, ADMINISTRATIVELY_PROHIBITED, `gatehouse: ${reason}`);
}

/** The reason code and text of the upstream's CHANNEL_OPEN_FAILURE, as ssh2's client hands them over. */
function upstreamRefusal(err: Error & { reason?: unknown }): [number, string] {
  const code = typeof err.reason === "number" ? err.reason : CONNECT_FAILED;
  return [code, err.message.replace(/^\(SSH\) Channel open failure: /, "")];
}

/**
 * Refuses a channel open with this reason code and text. ssh2's reject() always says "connect
 * failed" with no text (which tells the user the target is down, and not why); its one call to
 * channelOpenFail is redirected.
 */
function refuseOpen(client: Connection, reject: RejectConnection, code: number, description: string) {
  const protocol = (client as unknown as { _protocol?: { channelOpenFail(recipient: number, reason: number, description: string): void } })._protocol;
  if (!protocol) return reject();
  const original = protocol.channelOpenFail;
  protocol.channelOpenFail = (recipient) => original.call(protocol, recipient, code, description);
  try {
    reject();
  } finally {
    protocol.channelOpenFail = original;
  }
}

/**
 * Relays two channels both ways, `client` being the one to the user's client, as sshd relays a
 * forwarded connection: an EOF is passed on as an EOF once the bytes before it were sent (the
 * other direction goes on: a half-close), and either channel closing closes the other once what
 * was still on its way into it was sent. `onEnd` learns how many bytes went each way.
 */
type AnyChannel = ServerChannel | ClientChannel;

export function pipe(client: AnyChannel, other: AnyChannel, onEnd?: (bytes: { fromClient: number; toClient: number }) => void) {
  let fromClient = 0;
  let toClient = 0;
  if (onEnd) {
    client.on("data", (d: Buffer) => (fromClient += d.length));
    other.on("data", (d: Buffer) => (toClient += d.length));
  }
  relay(client, other);
  relay(other, client);
  partners.set(client, other);
  partners.set(other, client);
  let ended = false;
  const close = (into: AnyChannel) => {
    afterQueued(into, () => into.close());
    if (ended) return;
    ended = true;
    onEnd?.({ fromClient, toClient });
  };
  client.on("close", () => close(other));
  other.on("close", () => close(client));
}

const partners = new WeakMap<AnyChannel, AnyChannel>();

/**
 * Closes a channel and the one pipe() relays it with, both at once: what was still queued either
 * way is dropped, not delivered. For a forward policy stopped allowing; a channel that closes by
 * itself lets the other side finish sending first (pipe).
 */
export function cut(ch: AnyChannel) {
  ch.close();
  partners.get(ch)?.close();
}

/**
 * `from`'s bytes into `into`, then its EOF. Not stream.pipe's end(): ssh2 sends CLOSE right after
 * the EOF when a server channel's write side ends, and the client, told the connection is closed,
 * drops what it still had to send the other way (a target that shut only its write side, the
 * answer an -R client was still sending back).
 */
function relay(from: AnyChannel, into: AnyChannel) {
  from.pipe(into, { end: false });
  from.once("end", () => afterQueued(into, () => into.eof()));
}

/**
 * Runs `then` once everything written into `ch` so far went out (ssh2 holds writes past the
 * peer's window). At once when nothing waits, or nothing more can go out: after our EOF, or once
 * ssh2 itself ended the channel (the peer closed it; a write then would be an error).
 */
function afterQueued(ch: AnyChannel, then: () => void) {
  const state = (ch as unknown as { outgoing?: { state?: string } }).outgoing?.state;
  if (ch.writableLength === 0 || ch.writableEnded || state !== "open") return then();
  ch.write(Buffer.alloc(0), () => then());
}

/** Records how a forwarded connection ended: its bytes each way and how long it lasted (the contents are not recorded). */
export function forwardEnded(gw: GatewaySession, type: "local" | "remote" | "x11" | "agent", target: string) {
  const started = Date.now();
  return (bytes: { fromClient: number; toClient: number }) => {
    if (!gw.isEnded) gw.recorder.record("forward.end", { type, target, ...bytes, durationMs: Date.now() - started });
  };
}
