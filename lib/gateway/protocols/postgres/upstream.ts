import { createHash } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { md5Password, ScramClient } from "./scram";
import { build, FrameReader, parseBackendMessage, type Frame, type BackendMessage } from "./wire";

/**
 * The gateway as a PostgreSQL client of the upstream: TCP (+ TLS when the connection's options
 * say `tls: "require"`), StartupMessage with the stored user and the client's screened
 * parameters, then SCRAM-SHA-256 / md5 / cleartext / trust with the stored secret. The client
 * never sees any of this; it only gets the ParameterStatus messages and the final ReadyForQuery.
 */

export interface UpstreamConnection {
  socket: net.Socket;
  /** frames already received after ReadyForQuery stay here for the relay */
  reader: FrameReader;
  /** ParameterStatus and NoticeResponse frames of the handshake, to relay to the client */
  startupFrames: Buffer[];
  /** the server's parameters as reported at startup (DateStyle, TimeZone, server_version, ...) */
  parameters: Record<string, string>;
  backendKey: { pid: number; secretKey: Buffer } | null;
  /** for CancelRequest: where to open the cancel socket */
  address: { host: string; port: number; tls: boolean };
}

export class UpstreamError extends Error {
  constructor(
    message: string,
    readonly fields?: Extract<BackendMessage, { type: "ErrorResponse" }>["fields"],
  ) {
    super(message);
  }
}

const CONNECT_TIMEOUT_MS = 10_000;

export async function connectUpstream(target: UpstreamTarget, forward: Record<string, string>): Promise<UpstreamConnection> {
  const host = target.url.hostname.replace(/^\[|\]$/g, "");
  const port = Number(target.url.port || 5432);
  const useTls = target.options.tls === "require";
  let socket: net.Socket = await openSocket(host, port);
  const reader = new FrameReader();
  try {
    let channelBinding: Buffer | null = null;
    if (useTls) {
      socket.write(build.sslRequest());
      const answer = await readByte(socket);
      if (answer !== 0x53) throw new UpstreamError("the upstream does not accept TLS but the connection requires it");
      const secure = tls.connect({ socket, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: target.options.tlsVerify === true });
      await new Promise<void>((resolve, reject) => secure.once("secureConnect", resolve).once("error", reject));
      const cert = secure.getPeerCertificate();
      if (cert?.raw) channelBinding = createHash("sha256").update(cert.raw).digest();
      socket = secure;
    }
    const database = decodeURIComponent(target.url.pathname.slice(1)) || target.username;
    socket.write(build.startupMessage({ ...forward, user: target.username, database }));
    return await authenticate(socket, reader, target, channelBinding, { host, port, tls: useTls });
  } catch (err) {
    socket.destroy();
    throw err;
  }
}

function openSocket(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, noDelay: true });
    const timer = setTimeout(() => s.destroy(new UpstreamError(`upstream ${host}:${port} did not answer in time`)), CONNECT_TIMEOUT_MS);
    s.once("connect", () => {
      clearTimeout(timer);
      s.removeAllListeners("error");
      resolve(s);
    });
    s.once("error", (err) => {
      clearTimeout(timer);
      reject(new UpstreamError(`cannot reach the upstream: ${err.message}`));
    });
  });
}

function readByte(socket: net.Socket): Promise<number> {
  return new Promise((resolve, reject) => {
    socket.once("data", (d: Buffer) => {
      // Bytes after the answer would be unencrypted injection (CVE-2021-23222): refuse them.
      if (d.length !== 1) reject(new UpstreamError("unexpected data after the upstream's SSL answer"));
      else resolve(d[0]);
    });
    socket.once("error", reject);
  });
}

/** Pulls frames off the socket one at a time during the handshake. */
function frameSource(socket: net.Socket, reader: FrameReader) {
  let waiter: ((f: Frame | Error) => void) | null = null;
  let failure: Error | null = null;
  const onData = (d: Buffer) => {
    reader.push(d);
    if (waiter) {
      const f = reader.next();
      if (f) {
        const w = waiter;
        waiter = null;
        w(f);
      }
    }
  };
  const onEnd = (err?: Error) => {
    failure = err ?? new UpstreamError("the upstream closed the connection during authentication");
    waiter?.(failure);
  };
  socket.on("data", onData);
  socket.on("error", onEnd);
  socket.on("close", () => onEnd());
  const timer = setTimeout(() => onEnd(new UpstreamError("the upstream handshake timed out")), CONNECT_TIMEOUT_MS);
  return {
    next(): Promise<Frame> {
      const f = reader.next();
      if (f) return Promise.resolve(f);
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => (waiter = (x) => (x instanceof Error ? reject(x) : resolve(x))));
    },
    detach() {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.removeAllListeners("error");
      socket.removeAllListeners("close");
      // The session attaches its own handlers; until then an error must not crash the process.
      socket.on("error", () => {});
    },
  };
}

async function authenticate(socket: net.Socket, reader: FrameReader, target: UpstreamTarget, channelBinding: Buffer | null, address: UpstreamConnection["address"]): Promise<UpstreamConnection> {
  const src = frameSource(socket, reader);
  const startupFrames: Buffer[] = [];
  const parameters: Record<string, string> = Object.create(null);
  let backendKey: UpstreamConnection["backendKey"] = null;
  let scram: ScramClient | null = null;
  let authenticated = false;
  const password = () => {
    if (target.secret === null) throw new UpstreamError("the upstream asks for a password but the connection has no stored secret");
    return target.secret;
  };
  try {
    for (;;) {
      const frame = await src.next();
      const msg = parseBackendMessage(frame);
      switch (msg.type) {
        case "AuthenticationCleartextPassword":
          socket.write(build.password(password()));
          break;
        case "AuthenticationMD5Password":
          socket.write(build.password(md5Password(target.username, password(), msg.salt)));
          break;
        case "AuthenticationSASL":
          scram = ScramClient.choose(msg.mechanisms, { password: password(), ...(channelBinding ? { channelBinding: { type: "tls-server-end-point", data: channelBinding } } : {}) });
          socket.write(build.saslInitialResponse(scram.mechanism, scram.clientFirst()));
          break;
        case "AuthenticationSASLContinue":
          if (!scram) throw new UpstreamError("unexpected SASL continuation from the upstream");
          socket.write(build.saslResponse(await scram.clientFinal(msg.data)));
          break;
        case "AuthenticationSASLFinal":
          if (!scram) throw new UpstreamError("unexpected SASL final message from the upstream");
          scram.verifyServerFinal(msg.data);
          break;
        case "AuthenticationOk":
          // A server that skipped the SCRAM proof it started could be an impersonator.
          if (scram && !scram.verified) throw new UpstreamError("the upstream did not prove it knows the password");
          authenticated = true;
          break;
        case "AuthenticationOther":
          throw new UpstreamError(`the upstream asks for an unsupported authentication method (${msg.code})`);
        case "ParameterStatus":
        case "NoticeResponse":
          if (authenticated || msg.type === "NoticeResponse") startupFrames.push(Buffer.from(frame.raw));
          if (authenticated && msg.type === "ParameterStatus") parameters[msg.name] = msg.value;
          break;
        case "BackendKeyData":
          backendKey = { pid: msg.pid, secretKey: Buffer.from(msg.secretKey) };
          break;
        case "NegotiateProtocolVersion":
          break;
        case "ErrorResponse":
          throw new UpstreamError(`upstream refused the connection: ${msg.fields.message}`, msg.fields);
        case "ReadyForQuery":
          if (!authenticated) throw new UpstreamError("the upstream was ready before authentication completed");
          src.detach();
          return { socket, reader, startupFrames, parameters, backendKey, address };
        default:
          throw new UpstreamError(`unexpected ${msg.type} from the upstream during startup`);
      }
    }
  } finally {
    src.detach();
  }
}
