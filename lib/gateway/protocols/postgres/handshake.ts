import type net from "node:net";
import type { Db } from "@/db/client";
import { isStoreUnavailable, STORE_UNAVAILABLE } from "@/db/unavailable";
import { authenticateToken } from "@/lib/gateway/core/authenticate";
import { GatewaySession } from "@/lib/gateway/core/session";
import type { TlsMaterial } from "@/lib/gateway/core/tls";
import { GatehouseError, type Origin, type Principal } from "@/lib/gateway/core/types";
import { loadUpstream, type UpstreamTarget } from "@/lib/gateway/core/upstream";
import type { CancelRegistry } from "./cancel";
import { isLoopback, readPassword, readStartup, startupFrames } from "./client-startup";
import { isHandoffSecret, takeHandoff } from "./console-handoff";
import { connectUpstream, UpstreamError, type UpstreamConnection } from "./upstream";
import { build, negotiateStartup, ProtocolError, screenStartupParams, type FrameReader } from "./wire";
import { loggable } from "@/lib/util/loggable";

/**
 * From accept() to an authenticated client with a connected upstream: startup packets and TLS,
 * the token as cleartext password (inside TLS off loopback), the core's authentication and
 * `connect` decision, then the upstream login with the stored credentials. Every refusal is a
 * FATAL ErrorResponse with the SQLSTATE PostgreSQL itself would use.
 */

export interface HandshakeContext {
  db: Db;
  tls: () => TlsMaterial;
  cancels: CancelRegistry;
  startupTimeoutMs: number;
}

export interface Established {
  client: net.Socket;
  clientReader: FrameReader;
  session: GatewaySession;
  upstream: UpstreamConnection;
  target: UpstreamTarget;
  /** the client's startup parameters sent on upstream (application_name, extra_float_digits, ...) */
  forwarded: Record<string, string>;
}

export class Refusal extends Error {
  constructor(
    readonly sqlState: string,
    message: string,
  ) {
    super(message);
  }
}

/** Returns null when the connection is done: a CancelRequest (handled) or a refusal (sent). */
export async function establish(raw: net.Socket, ctx: HandshakeContext): Promise<Established | null> {
  const address = raw.remoteAddress ?? "unknown";
  const frames = startupFrames(raw);
  // A client that never finishes the startup must not hold a socket (or a DB query) forever.
  const timer = setTimeout(() => {
    frames.fail(new ProtocolError("startup timed out"));
    frames.socket.destroy();
  }, ctx.startupTimeoutMs);
  try {
    const start = await readStartup(frames, ctx.tls);
    if (start.type === "cancel") {
      ctx.cancels.cancel(start.pid, start.secretKey);
      raw.end();
      return null;
    }
    const client = start.socket;
    client.on("error", () => {}); // the session owns errors; until then they must not crash the process
    if (!start.secure && !isLoopback(address)) throw new Refusal("28000", "TLS required: connect with sslmode=require");
    const { negotiate, params } = negotiateStartup(start.message);
    if (negotiate) client.write(negotiate);
    const screened = screenStartupParams(params);
    if (screened.refused.length) throw new Refusal("08P01", screened.refused[0]);
    client.write(build.authenticationCleartextPassword());
    const token = await readPassword(frames);
    clearTimeout(timer);
    frames.detach();
    const connection = screened.database!;
    const { principal, client: who } = await loginOf(ctx.db, token, { address, user: screened.user!, connection });
    const target = await loadUpstream(ctx.db, connection);
    if (!target) throw new Refusal("3D000", `database "${connection}" does not exist (no Gatehouse connection of that name)`);
    if (target.ref.type !== "postgres") throw new Refusal("3D000", `connection "${connection}" is a ${target.ref.type} connection, not PostgreSQL`);
    const applicationName = screened.forward.application_name ?? Object.entries(screened.forward).find(([k]) => k.toLowerCase() === "application_name")?.[1] ?? "";
    let session: GatewaySession;
    try {
      session = await GatewaySession.open(ctx.db, { principal, connection: target.ref, client: { address: who.address, origin: who.origin, protocol: "postgres" }, applicationName }, {
        onHeld: (h) => client.write(build.noticeResponse({ severity: "NOTICE", code: "00000", message: `connection held for approval #${h.approvalId}: ${h.url}` })),
      });
    } catch (err) {
      if (err instanceof GatehouseError && err.code === "DENIED") throw new Refusal("42501", `gatehouse: ${err.message}`);
      throw err;
    }
    let upstream: UpstreamConnection;
    // Ended from outside (an admin's kill, a revoked token) while the upstream still connects:
    // refused then, not once a slow or hung upstream answers.
    let killedFor: string | null = null;
    const killed = new Promise<never>((_, reject) => session.onTerminate((reason) => reject(new Error((killedFor = reason)))));
    killed.catch(() => {});
    const connecting = connectUpstream(target, screened.forward);
    try {
      upstream = await Promise.race([connecting, killed]);
    } catch (err) {
      if (killedFor !== null) {
        connecting.then((late) => late.socket.destroy(), () => {});
        throw new Refusal("57P01", `terminating connection: ${killedFor}`);
      }
      const message = err instanceof UpstreamError ? err.message : "cannot connect to the upstream";
      session.recorder.record("upstream_error", { message });
      await session.end("failed", message);
      throw new Refusal("08006", `gatehouse: ${message}`);
    }
    who.opened?.(session.id);
    return { client, clientReader: start.reader, session, upstream, target, forwarded: screened.forward };
  } catch (err) {
    refuse(frames.socket, err);
    return null;
  } finally {
    clearTimeout(timer);
    frames.detach();
  }
}

/**
 * Who logs in: the owner of a Gatehouse token given as the password, from the socket's address;
 * or, for the console's SQL page (console-handoff.ts), the person at the browser, from theirs.
 */
async function loginOf(db: Db, password: string, at: { address: string; user: string; connection: string }): Promise<{ principal: Principal; client: { address: string; origin: Origin; opened?: (id: string) => void } }> {
  const refused = (why?: string) => new Refusal("28P01", `password authentication failed for user "${at.user}"${why ? `: ${why}` : ""}`);
  if (isHandoffSecret(password)) {
    const handoff = takeHandoff(password, at.connection, at.user);
    if (!handoff) throw refused();
    return { principal: handoff.principal, client: { address: handoff.address, origin: "web-console", opened: handoff.opened } };
  }
  try {
    const principal = await authenticateToken(db, password, { protocol: "postgres", address: at.address, claimedUser: at.user, connection: at.connection });
    return { principal, client: { address: at.address, origin: "native" } };
  } catch (err) {
    if (err instanceof GatehouseError && err.code === "UNAVAILABLE") throw err;
    throw refused(err instanceof GatehouseError && err.code === "FORBIDDEN" ? err.message : undefined);
  }
}

/** The one place startup errors become wire errors. Internal causes are logged, never sent. */
export function refuse(socket: net.Socket, err: unknown) {
  let code = "XX000";
  let message = "internal error in the gateway";
  if (err instanceof Refusal) [code, message] = [err.sqlState, err.message];
  else if (err instanceof ProtocolError) [code, message] = [err.sqlState, err.message];
  // 57P03 cannot_connect_now: what PostgreSQL itself answers while it cannot serve; clients retry.
  else if ((err instanceof GatehouseError && err.code === "UNAVAILABLE") || isStoreUnavailable(err)) [code, message] = ["57P03", `gatehouse: ${err instanceof GatehouseError ? err.message : STORE_UNAVAILABLE}`];
  else console.error("[postgres] startup failed:", loggable(err));
  if (socket.writable && !socket.destroyed) {
    socket.end(build.errorResponse({ severity: "FATAL", code, message }));
    setTimeout(() => socket.destroy(), 1000).unref();
  } else socket.destroy();
}
