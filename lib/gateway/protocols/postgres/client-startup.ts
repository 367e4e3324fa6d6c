import net from "node:net";
import tls from "node:tls";
import type { TlsMaterial } from "@/lib/gateway/core/tls";
import { FRONTEND_TAGS, FrameReader, ProtocolError, parseFrontendMessage, parseStartupPacket, type Frame, type StartupMessage } from "./wire";

/**
 * The client side of the startup phase, up to and including the password: SSLRequest → TLS,
 * GSSENCRequest → 'N', CancelRequest → handed back, StartupMessage, then the cleartext
 * password (a Gatehouse token). Pure protocol: who the client is and what it may reach is
 * decided by session.ts with the core.
 */

export type StartupOutcome =
  | { type: "cancel"; pid: number; secretKey: Buffer }
  | { type: "startup"; socket: net.Socket; reader: FrameReader; message: StartupMessage; secure: boolean; frames: SocketFrames };

/** Frames from a socket, one at a time, for the request/response handshake phase. */
export class SocketFrames {
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly onData = (d: Buffer) => {
    try {
      this.reader.push(d);
      if (this.waiter) {
        const f = this.reader.next();
        if (f) this.settle(f);
      }
    } catch (err) {
      this.fail(err as Error);
    }
  };
  private readonly onClose = () => this.fail(new ProtocolError("the client closed the connection during startup"));

  constructor(
    public socket: net.Socket,
    readonly reader: FrameReader,
  ) {
    this.attach(socket);
  }

  attach(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", this.onData);
    socket.on("close", this.onClose);
    socket.on("error", this.onClose);
  }

  detach() {
    this.socket.off("data", this.onData);
    this.socket.off("close", this.onClose);
    this.socket.off("error", this.onClose);
  }

  next(): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    try {
      const f = this.reader.next();
      if (f) return Promise.resolve(f);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  private settle(f: Frame) {
    const w = this.waiter!;
    this.waiter = null;
    w.resolve(f);
  }

  fail(err: Error) {
    this.failure ??= err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }
}

export function startupFrames(raw: net.Socket): SocketFrames {
  return new SocketFrames(raw, new FrameReader({ startup: true, allowedTags: FRONTEND_TAGS }));
}

/** `frames.socket` is the socket to answer on (the TLS socket once TLS is up), also after a failure. */
export async function readStartup(frames: SocketFrames, tlsMaterial: () => TlsMaterial): Promise<StartupOutcome> {
  const raw = frames.socket;
  const reader = frames.reader;
  let secure = false;
  for (;;) {
    const packet = parseStartupPacket(await frames.next());
    switch (packet.type) {
      case "SSLRequest": {
        if (secure) throw new ProtocolError("SSLRequest after TLS was established");
        // Plaintext bytes queued behind the request would be read as if they came over TLS.
        if (reader.buffered > 0) throw new ProtocolError("received unencrypted data after SSL request");
        frames.detach();
        const material = tlsMaterial();
        raw.write("S");
        const secureSocket = new tls.TLSSocket(raw, { isServer: true, cert: material.cert, key: material.key });
        await new Promise<void>((resolve, reject) => {
          secureSocket.once("secure", resolve);
          secureSocket.once("error", reject);
          secureSocket.once("close", () => reject(new ProtocolError("the client closed the connection during the TLS handshake")));
        });
        secureSocket.removeAllListeners("error");
        secureSocket.removeAllListeners("close");
        secure = true;
        reader.setMode("startup");
        frames.attach(secureSocket);
        break;
      }
      case "GSSENCRequest":
        if (reader.buffered > 0) throw new ProtocolError("received unencrypted data after GSSAPI encryption request");
        frames.socket.write("N");
        break;
      case "CancelRequest":
        frames.detach();
        return { type: "cancel", pid: packet.pid, secretKey: Buffer.from(packet.secretKey) };
      case "StartupMessage":
        return { type: "startup", socket: frames.socket, reader, message: packet, secure, frames };
    }
  }
}

/** Reads the PasswordMessage answering AuthenticationCleartextPassword. */
export async function readPassword(frames: SocketFrames): Promise<string> {
  const frame = await frames.next();
  if (frame.tag !== "p") throw new ProtocolError(`expected a password response, got message type '${frame.tag}'`);
  const msg = parseFrontendMessage(frame, { auth: "password" });
  if (msg.type !== "PasswordMessage") throw new ProtocolError("expected a password response");
  return msg.password;
}

export function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === "::1" || address.startsWith("127.") || address.startsWith("::ffff:127.");
}
