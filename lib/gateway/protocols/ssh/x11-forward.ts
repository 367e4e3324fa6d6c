import type { Client as UpstreamClient, Connection, X11Info, X11Options } from "ssh2";
import { ForwardGate, pipe } from "./forward";

/**
 * X11 forwarding through the gateway (`ssh -X` / `ssh -Y`), when policy permits the action
 * `forward` with text "x11" for the connection. The session channel's upstream shell/exec asks
 * the upstream sshd for X11 with exactly the protocol, cookie, screen and single-connection flag
 * the client sent; when an X program upstream connects to its DISPLAY, sshd opens an `x11`
 * channel to Gatehouse, and Gatehouse opens one to the user's client and relays the bytes.
 *
 * The cookie passes through unchanged on purpose: OpenSSH sends a fake cookie and, on each X11
 * channel it receives, checks that fake cookie and swaps in the real one before the bytes reach
 * the user's X server. Gatehouse never sees the real cookie, and a program that did not get the
 * fake one from sshd's xauth entry is turned away by the client.
 */
export type X11Forward = Required<Pick<X11Options, "single" | "protocol" | "screen">> & { cookie: string };

/**
 * The client's x11-req as the upstream request. ssh2's server hands the cookie over as the raw
 * bytes of the string field (OpenSSH puts the hex text there) although its types say string;
 * ssh2's client would hex-encode a Buffer a second time, so it goes upstream as that same text.
 */
export function x11ForwardOf(info: X11Info): X11Forward {
  const cookie = info.cookie as unknown;
  return {
    single: Boolean(info.single),
    protocol: String(info.protocol),
    cookie: Buffer.isBuffer(cookie) ? cookie.toString("latin1") : String(cookie),
    screen: Number(info.screen) || 0,
  };
}

/**
 * Relays the X11 channels the upstream host opens back to the user's client. ssh2's client only
 * announces them once some channel asked for X11 upstream (which only a permitted channel does);
 * until a channel of this connection was permitted, every one is refused all the same.
 */
export class X11Relay {
  readonly gate = new ForwardGate();

  constructor(
    private readonly client: Connection,
    upstream: UpstreamClient,
    /** an X11 channel is being relayed: returns what to call with its byte counts when it closes */
    private readonly onOpen: () => (bytes: { fromClient: number; toClient: number }) => void,
  ) {
    upstream.on("x11", (details, accept, reject) => {
      if (!this.gate.isOpen) return reject();
      this.client.x11(details.srcIP, details.srcPort, (err, channel) => {
        if (err || !this.gate.admit(channel)) return reject();
        pipe(channel, accept(), this.onOpen());
      });
    });
  }
}
