import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { tokens } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";
import { getSigningKeys } from "@/lib/identity/keys";
import { isSubset } from "@/lib/identity/narrowing";
import { issueToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

export const TICKET_TTL_SECONDS = 60;

/**
 * A single-use connection ticket (60 s, one gateway connection) minted from the caller's token,
 * so a long-lived token need not sit in a child process's environment. It carries the caller's
 * chain and at most its scope; the gateways consume it on first use and refuse (and audit) reuse.
 */
export async function mintTicket(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "gateway:use");
  const p = who.principal;
  if (!p?.tokenId) throw new GatehouseError("INVALID", "tickets are minted from a bearer token");
  const { connection } = z.object({ connection: z.string().min(1).max(63).optional() }).parse(input ?? {});
  const [row] = await db.select({ expiresAt: tokens.expiresAt, kind: tokens.kind }).from(tokens).where(eq(tokens.id, p.tokenId));
  if (!row || row.kind === "ticket") throw new GatehouseError("FORBIDDEN", "a ticket cannot mint tickets");
  const connections = connection ? [connection] : p.scopeConnections;
  if (!isSubset(connections, p.scopeConnections)) throw new GatehouseError("FORBIDDEN", `this token's scope does not include ${connection}`);
  const ttl = Math.min(TICKET_TTL_SECONDS, Math.floor((row.expiresAt.getTime() - Date.now()) / 1000));
  if (ttl < 1) throw new GatehouseError("UNAUTHENTICATED", "token expired");
  const keys = await getSigningKeys(db);
  return mutate(db, async (tx) => {
    const t = await issueToken(tx, keys, {
      userId: p.userId,
      email: p.email,
      kind: "ticket",
      name: "connection ticket",
      ttlSeconds: ttl,
      // Same chain, same actor: a ticket is a narrower credential, not a new delegation. Every
      // link keeps its token, the current actor's too: revoking one ends the ticket, grants
      // follow them, and the ticket's sessions are in the actor's branch.
      chain: p.chain.map((a) => ({ ...a })),
      parentTokenId: p.tokenId,
      scopeConnections: connections,
      scopeActions: p.scopeActions,
    });
    await appendAudit(tx, who, { action: "token.ticket", subject: `token:${t.id}`, detail: { parent: p.tokenId, connections } });
    return { ticket: t.token, id: t.id, expiresAt: t.expiresAt.toISOString() };
  });
}
