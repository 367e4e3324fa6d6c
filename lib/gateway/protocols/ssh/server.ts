import net from "node:net";
import ssh2, { type Connection, type Server } from "ssh2";
import type { Db } from "@/db/client";
import type { GatewayContext, ProtocolServer } from "@/lib/gateway/core/registry";
import { SshConnection } from "./connection";
import { checkUpstreamAlgorithms, explainAlgorithmError, listenerAlgorithms } from "./algorithms";
import { ensureHostKey } from "./host-key";

/**
 * The SSH listener. The TCP accept loop belongs to us (not ssh2's) so every socket gets a
 * handshake deadline before ssh2 sees a byte: garbage before the banner or a client that never
 * finishes key exchange is dropped after HANDSHAKE_TIMEOUT_MS without affecting anyone else.
 */
const HANDSHAKE_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_HANDSHAKE_TIMEOUT_MS ?? 10_000);
const BANNER = "Gatehouse";

export class SshServer implements ProtocolServer {
  readonly protocol = "ssh";
  private listener: net.Server | null = null;
  private ssh: Server | null = null;
  private readonly connections = new Set<SshConnection>();
  private readonly sockets = new Set<net.Socket>();
  private readonly deadlines = new WeakMap<net.Socket, NodeJS.Timeout>();

  async start(ctx: GatewayContext): Promise<{ port: number }> {
    const db = ctx.db.db as Db;
    const hostKey = ensureHostKey(ctx.config.dataDir);
    checkUpstreamAlgorithms();
    const algorithms = listenerAlgorithms();
    let ssh: Server;
    try {
      ssh = new ssh2.Server({ hostKeys: [hostKey.key], ident: BANNER, algorithms }, (client, info) => this.onClient(db, client, info.ip ?? ""));
    } catch (err) {
      throw explainAlgorithmError(err, "listener");
    }
    this.ssh = ssh;
    const listener = net.createServer({ noDelay: true }, (socket) => this.accept(socket));
    listener.on("error", (err) => console.error("[ssh] listener error:", err.message));
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(ctx.config.ports.ssh, ctx.config.bind, () => {
        listener.off("error", reject);
        resolve();
      });
    });
    this.listener = listener;
    console.log(`[ssh] host key ${hostKey.fingerprint}`);
    return { port: (listener.address() as net.AddressInfo).port };
  }

  private accept(socket: net.Socket) {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => this.sockets.delete(socket));
    const deadline = setTimeout(() => socket.destroy(), HANDSHAKE_TIMEOUT_MS);
    this.deadlines.set(socket, deadline);
    socket.once("close", () => clearTimeout(deadline));
    (this.ssh as unknown as { injectSocket(s: net.Socket): void }).injectSocket(socket);
  }

  private onClient(db: Db, client: Connection, address: string) {
    // ssh2 keeps the socket as `_sock`; the deadline ends once key exchange completes.
    const socket = (client as unknown as { _sock?: net.Socket })._sock;
    client.once("handshake", () => {
      if (socket) clearTimeout(this.deadlines.get(socket));
    });
    const conn = new SshConnection(db, client, address);
    this.connections.add(conn);
    void conn.closed.then(() => this.connections.delete(conn));
    conn.start();
  }

  async stopAccepting(): Promise<void> {
    await new Promise<void>((resolve) => (this.listener ? this.listener.close(() => resolve()) : resolve()));
  }

  async endSessions(reason: string): Promise<void> {
    const all = [...this.connections];
    for (const c of all) c.terminate(reason);
    await Promise.race([Promise.allSettled(all.map((c) => c.closed)), new Promise((r) => setTimeout(r, 5000))]);
    for (const s of this.sockets) s.destroy();
  }

  liveSessions(): number {
    return this.connections.size;
  }
}
