import net from "node:net";
import type { Db } from "@/db/client";
import type { GatewayContext, ProtocolServer } from "@/lib/gateway/core/registry";
import { ensureTlsMaterial, type TlsMaterial } from "@/lib/gateway/core/tls";
import { CancelRegistry } from "./cancel";
import { initClassifier } from "./classify";
import { isLoopback } from "./client-startup";
import { setGatewayListening } from "./console-handoff";
import { establish } from "./handshake";
import { closeAllMetadata } from "./metadata";
import { PgSession } from "./session";
import { loggable } from "@/lib/util/loggable";

/**
 * The PostgreSQL listener. Each accepted socket is independent: its startup runs under its own
 * timeout, so a slow or hostile client never stalls the accept loop or anyone else.
 */
const STARTUP_TIMEOUT_MS = Number(process.env.GATEHOUSE_PG_STARTUP_TIMEOUT_MS ?? 10_000);

export class PostgresServer implements ProtocolServer {
  readonly protocol = "postgres";
  private server: net.Server | null = null;
  private readonly sessions = new Set<PgSession>();
  private readonly sockets = new Set<net.Socket>();
  private readonly cancels = new CancelRegistry();
  private tls: TlsMaterial | null = null;

  async start(ctx: GatewayContext): Promise<{ port: number }> {
    await initClassifier();
    const db = ctx.db.db as Db;
    const tls = () => (this.tls ??= ensureTlsMaterial(ctx.config.dataDir));
    tls(); // generate the certificate now, not inside the first client's handshake
    const server = net.createServer({ noDelay: true }, (socket) => void this.accept(socket, db, tls));
    server.on("error", (err) => console.error("[postgres] listener error:", err.message));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(ctx.config.ports.postgres, ctx.config.bind, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.server = server;
    const port = (server.address() as net.AddressInfo).port;
    const bind = ctx.config.bind;
    const anyAddress = bind === "0.0.0.0" || bind === "::" || bind === "";
    setGatewayListening({ host: anyAddress ? "127.0.0.1" : bind, port, cert: isLoopback(bind) || anyAddress ? null : tls().cert.toString() });
    return { port };
  }

  private async accept(socket: net.Socket, db: Db, tls: () => TlsMaterial) {
    this.sockets.add(socket);
    socket.on("error", () => {});
    socket.once("close", () => this.sockets.delete(socket));
    try {
      const est = await establish(socket, { db, tls, cancels: this.cancels, startupTimeoutMs: STARTUP_TIMEOUT_MS });
      if (!est) return;
      const s = new PgSession(est, this.cancels);
      this.sessions.add(s);
      await s.start();
      this.sessions.delete(s);
    } catch (err) {
      console.error("[postgres] connection failed:", loggable(err));
      socket.destroy();
    }
  }

  async stopAccepting(): Promise<void> {
    setGatewayListening(null);
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  async endSessions(reason: string): Promise<void> {
    const all = [...this.sessions];
    for (const s of all) s.terminate(reason);
    await Promise.race([Promise.allSettled(all.map((s) => s.closedPromise())), new Promise((r) => setTimeout(r, 5000))]);
    for (const sock of this.sockets) sock.destroy();
    await closeAllMetadata();
  }

  liveSessions(): number {
    return this.sessions.size;
  }
}
