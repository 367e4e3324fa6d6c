import type { Db } from "@/db/client";
import { isStoreUnavailable, STORE_UNAVAILABLE } from "@/db/unavailable";
import { can } from "@/lib/auth/authorize";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { withoutTokens } from "@/lib/identity/redact";
import { verifyToken } from "@/lib/identity/tokens";
import { auditRefusedCredential } from "@/lib/services/audit/refusal";

/**
 * Step 1 of the pipeline for every protocol: a Gatehouse token (psql password, SSH password,
 * bearer header) → Principal. `claimedUser`, when the protocol carries one (PostgreSQL `user`,
 * MySQL user), must name the token's owner. Failures are audited with the client address and
 * never echo the token, nor one the client typed where its user name or connection goes.
 */
export async function authenticateToken(
  db: Db,
  token: string,
  ctx: { protocol: string; address: string; claimedUser?: string; connection?: string; allowTicket?: boolean },
): Promise<Principal> {
  try {
    // Connection tickets are for gateways that open one connection per credential (default);
    // MCP re-authenticates every request, so it refuses them.
    const principal = await verifyToken(db, token, { allowTicket: ctx.allowTicket ?? true });
    if (ctx.claimedUser && ctx.claimedUser.toLowerCase() !== principal.email.toLowerCase()) {
      throw new GatehouseError("UNAUTHENTICATED", `user "${withoutTokens(ctx.claimedUser)}" does not own this token`);
    }
    if (!can({ userId: principal.userId, email: principal.email, role: principal.role, groups: principal.groups, via: "token", principal }, "gateway:use")) {
      throw new GatehouseError("FORBIDDEN", "this account may not use the gateway");
    }
    return principal;
  } catch (caught) {
    // Not being able to check a credential is not the client's failure: say so, let nothing in.
    const err = !(caught instanceof GatehouseError) && isStoreUnavailable(caught) ? new GatehouseError("UNAVAILABLE", STORE_UNAVAILABLE) : caught;
    const message = err instanceof GatehouseError ? err.message : "authentication failed";
    // What the client typed as user or connection may be a token pasted into the wrong field.
    await auditRefusedCredential(db, `${ctx.protocol}\u0000${ctx.address}\u0000${ctx.connection ?? ""}\u0000${ctx.claimedUser ?? ""}`, {
      action: "gateway.auth_failed",
      subject: `connection:${withoutTokens(ctx.connection ?? "?")}`,
      detail: { protocol: ctx.protocol, address: ctx.address, user: ctx.claimedUser === undefined ? null : withoutTokens(ctx.claimedUser), reason: message },
    });
    throw err instanceof GatehouseError ? err : new GatehouseError("UNAUTHENTICATED", "authentication failed");
  }
}
