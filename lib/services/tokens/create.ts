import { z } from "zod";
import type { Db, Tx } from "@/db/client";
import { linkThatIssued } from "@/db/queries/external-identities";
import { authorize, isNarrowed } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";
import { getSigningKeys } from "@/lib/identity/keys";
import { issueToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { plainName } from "@/lib/util/plain-name";

export const MAX_PERSONAL_TTL = 90 * 24 * 3600;

export const tokenInput = z.object({
  name: plainName(z.string().max(100)).default(""),
  ttlSeconds: z.number().int().min(60).max(MAX_PERSONAL_TTL).default(30 * 24 * 3600),
  connections: z.array(z.string().min(1).max(63)).max(100).default(["*"]),
  actions: z.array(z.enum(["*", "connect", "read", "write", "ddl", "admin", "exec", "http", "tool"])).max(16).default(["*"]),
});

/** A personal token for the caller (console "Agents & tokens", `gatehouse tokens create`). */
export async function createPersonalToken(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "tokens:own");
  const data = tokenInput.parse(input);
  // Only a full user credential mints personal tokens. An agent's or a narrowed (script) token's
  // would not end with it: a leaked one could mint a sibling that outlives its revocation. They
  // use token exchange, whose child is narrowed and revoked with its parent.
  if (who.principal && isNarrowed(who.principal)) {
    throw new GatehouseError("FORBIDDEN", "a delegated or narrowed token cannot create personal tokens (they would not be revoked with it); use token exchange");
  }
  const keys = await getSigningKeys(db);
  return mutate(db, async (tx) => {
    // Minted by a console session or a token that came through an external identity link: it is
    // that identity's doing, and ends when the link is removed (unlink-external.ts reads this row).
    const through = await linkOfCaller(tx, who);
    const issued = await issueToken(tx, keys, {
      userId: who.userId,
      email: who.email,
      kind: "personal",
      name: data.name,
      ttlSeconds: data.ttlSeconds,
      chain: [{ kind: "user", id: who.userId, name: who.email }],
      scopeConnections: data.connections,
      scopeActions: data.actions,
    });
    await appendAudit(tx, who, {
      action: "token.create",
      subject: `token:${issued.id}`,
      detail: { name: data.name, ttlSeconds: data.ttlSeconds, connections: data.connections, actions: data.actions, ...(through ? { issuer: through.issuer, externalSubject: through.subject, root: issued.id } : {}) },
    });
    return { ...issued, expiresAt: issued.expiresAt.toISOString(), name: data.name };
  });
}

/** The external identity link the caller came through, if any: its console sign-in's, or the one its token was issued through. */
async function linkOfCaller(tx: Tx, who: Caller): Promise<{ issuer: string; subject: string } | null> {
  if (who.via === "session") return who.signIn && who.signIn.via !== "password" ? { issuer: who.signIn.issuer, subject: who.signIn.subject } : null;
  return who.principal?.tokenId ? linkThatIssued(tx, who.userId, who.principal.tokenId) : null;
}
