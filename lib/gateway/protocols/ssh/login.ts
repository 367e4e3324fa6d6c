import type { Connection } from "ssh2";
import type { Db } from "@/db/client";
import { isStoreUnavailable, STORE_UNAVAILABLE } from "@/db/unavailable";
import { loadUpstream, type UpstreamTarget } from "@/lib/gateway/core/upstream";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { withoutTokens } from "@/lib/identity/redact";
import { loggable } from "@/lib/util/loggable";
import { AUTH_METHODS, authenticateSsh, isAcceptableKeyQuery, storeLookup } from "./auth";
import { disconnectWithReason } from "./disconnect";

const MAX_AUTH_ATTEMPTS = 6;

/**
 * The login of one client connection (SshConnection, connection.ts): a Gatehouse token or a
 * registered key, and the SSH connection named as the user. `onLogin` hears who logged in to
 * what, just before the client is told it may go on.
 */
export function acceptLogins(db: Db, client: Connection, address: string, onLogin: (principal: Principal, target: UpstreamTarget) => void) {
  let attempts = 0;
  client.on("authentication", (ctx) => {
    if (ctx.method === "none") return ctx.reject(AUTH_METHODS);
    if (++attempts > MAX_AUTH_ATTEMPTS) {
      ctx.reject([]);
      return client.end();
    }
    void (async () => {
      if (ctx.method === "publickey" && !ctx.signature) return (await isAcceptableKeyQuery(db, ctx)) ? ctx.accept() : ctx.reject(AUTH_METHODS);
      const principal = await authenticateSsh(db, ctx, address);
      if (!principal) return ctx.reject(AUTH_METHODS);
      const target = await storeLookup(loadUpstream(db, ctx.username));
      if (!target || target.ref.type !== "ssh") {
        console.error(`[ssh] ${principal.email}: no ssh connection named "${withoutTokens(ctx.username)}"`);
        return ctx.reject(AUTH_METHODS);
      }
      onLogin(principal, target);
      ctx.accept();
    })().catch((err) => {
      // Gatehouse's database is down: nothing can be checked, so nobody gets in, but the client
      // is told why rather than "Permission denied" (as the PostgreSQL gateway answers 57P03).
      if (storeUnavailable(err)) return disconnectWithReason(client, STORE_UNAVAILABLE);
      console.error("[ssh] authentication error:", loggable(err));
      ctx.reject(AUTH_METHODS);
    });
  });
}

export function clientSoftware(client: Connection): string {
  return remoteIdent(client).replace(/^SSH-2\.0-/, "").slice(0, 64);
}

/** The other side's identification string ("SSH-2.0-OpenSSH_9.2p1 ..."), of a client or of a host; "" before the handshake. */
export function remoteIdent(peer: unknown): string {
  // ssh2 keeps it on its protocol object (no public API), client and server side alike
  const ident = (peer as { _protocol?: { _remoteIdentRaw?: unknown } })._protocol?._remoteIdentRaw;
  return typeof ident === "string" ? ident : Buffer.isBuffer(ident) ? ident.toString("latin1") : "";
}

/** Gatehouse's own database could not be reached (the credential, the key, the connection could not be read). */
export function storeUnavailable(err: unknown): boolean {
  return (err instanceof GatehouseError && err.code === "UNAVAILABLE" && err.message === STORE_UNAVAILABLE) || isStoreUnavailable(err);
}
