import ssh2, { type AuthContext } from "ssh2";

const { utils } = ssh2; // CommonJS: named exports are not visible to Node's ESM loader
import type { Db } from "@/db/client";
import { findSshKeyOwner } from "@/db/queries/ssh-keys";
import { isStoreUnavailable, storeDeadline } from "@/db/unavailable";
import { authenticateToken } from "@/lib/gateway/core/authenticate";
import { withoutTokens } from "@/lib/identity/redact";
import { principalForUser } from "@/lib/gateway/core/user-principal";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { auditRefusedCredential } from "@/lib/services/audit/refusal";
import { touchSshKey } from "@/lib/services/ssh-keys/touch";
import { loggable } from "@/lib/util/loggable";

/**
 * SSH client authentication: the SSH user name is the connection, and the credential is a
 * Gatehouse token (as the password, or typed at a keyboard-interactive prompt) or a public key
 * the user registered. Returns the principal, or null after rejecting the attempt (the client
 * may try another method); throws when the credential could not be checked (the database is
 * unreachable: UNAVAILABLE, or the store's own error from a key lookup). Key lookups happen only
 * for the key the client offers, and a key is accepted only with a valid signature over this
 * session's id.
 */
export const AUTH_METHODS: AuthContext["method"][] = ["publickey", "password", "keyboard-interactive"];

/** How long a login waits for Gatehouse's database before telling the client it cannot be reached. */
const STORE_TIMEOUT_MS = Number(process.env.GATEHOUSE_SSH_STORE_TIMEOUT_MS) || 10_000;

/** A lookup for a login, bounded by STORE_TIMEOUT_MS (a hung database fails like an unreachable one). */
export function storeLookup<T>(work: Promise<T>): Promise<T> {
  return storeDeadline(work, STORE_TIMEOUT_MS);
}

export async function authenticateSsh(db: Db, ctx: AuthContext, address: string): Promise<Principal | null> {
  const connection = ctx.username;
  switch (ctx.method) {
    case "password":
      return tokenAuth(db, ctx.password, connection, address);
    case "keyboard-interactive":
      return new Promise((resolve, reject) => {
        ctx.prompt([{ prompt: "Gatehouse token (password): ", echo: false }], "Gatehouse", "Paste a Gatehouse token (gatehouse tokens create).", (answers) => {
          tokenAuth(db, answers[0] ?? "", connection, address).then(resolve, reject);
        });
      });
    case "publickey": {
      const owner = await storeLookup(findSshKeyOwner(db, ctx.key.algo, ctx.key.data.toString("base64")));
      if (!owner) {
        if (ctx.signature) await auditFailure(db, connection, address, "unregistered public key");
        return null;
      }
      // Without a signature the client only asks whether this key would do; say yes, then it signs.
      if (!ctx.signature || !ctx.blob) return null;
      const parsed = utils.parseKey(ctx.key.data);
      const key = Array.isArray(parsed) ? parsed[0] : parsed;
      if (key instanceof Error || !key.verify(ctx.blob, ctx.signature, ctx.hashAlgo)) {
        await auditFailure(db, connection, address, "bad public key signature");
        return null;
      }
      try {
        const principal = await storeLookup(principalForUser(db, owner.userId));
        await storeLookup(touchSshKey(db, owner.keyId)).catch(() => {});
        return { ...principal, sshKeyId: owner.keyId };
      } catch (err) {
        if (isStoreUnavailable(err)) throw err;
        await auditFailure(db, connection, address, (err as Error).message);
        return null;
      }
    }
    default:
      return null;
  }
}

/** True when the client only asked whether a public key is acceptable (no signature yet). */
export async function isAcceptableKeyQuery(db: Db, ctx: AuthContext): Promise<boolean> {
  if (ctx.method !== "publickey" || ctx.signature) return false;
  return !!(await storeLookup(findSshKeyOwner(db, ctx.key.algo, ctx.key.data.toString("base64"))));
}

async function tokenAuth(db: Db, token: string, connection: string, address: string): Promise<Principal | null> {
  try {
    return await storeLookup(authenticateToken(db, token.trim(), { protocol: "ssh", address, connection }));
  } catch (err) {
    // The token could not be checked (the database is down): not the client's failure, say so.
    if ((err instanceof GatehouseError && err.code === "UNAVAILABLE") || isStoreUnavailable(err)) throw err;
    if (!(err instanceof GatehouseError)) console.error("[ssh] token authentication failed:", loggable(err));
    return null; // authenticateToken audited it
  }
}

async function auditFailure(db: Db, connection: string, address: string, reason: string) {
  await auditRefusedCredential(db, `ssh\u0000${address}\u0000${connection}`, { action: "gateway.auth_failed", subject: `connection:${withoutTokens(connection)}`, detail: { protocol: "ssh", address, reason } });
}
