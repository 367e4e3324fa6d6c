import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { tokens, type StoredActor } from "@/db/schema";
import { GatehouseError } from "@/lib/gateway/core/types";
import { getSigningKeys } from "@/lib/identity/keys";
import { narrow } from "@/lib/identity/narrowing";
import { issueToken, verifyToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const SUBJECT_TYPES = [JWT_TOKEN_TYPE, "urn:ietf:params:oauth:token-type:access_token"];

/** OAuth-style error (RFC 6749 §5.2) so token-exchange clients understand it. */
export class OAuthError extends Error {
  constructor(
    readonly error: "invalid_request" | "invalid_grant" | "invalid_scope" | "unsupported_grant_type",
    readonly description: string,
  ) {
    super(description);
  }
}

const exchangeInput = z.object({
  grant_type: z.string(),
  subject_token: z.string().min(20).max(8192),
  subject_token_type: z.string().default(JWT_TOKEN_TYPE),
  actor_token: z.string().max(8192).optional(),
  actor_token_type: z.string().optional(),
  /** Gatehouse extension: the name the new actor (agent) is known by in sessions and policy */
  actor: z.string().trim().min(1).max(100).regex(/^[A-Za-z0-9_.:@-]+$/, "letters, digits and _ . : @ -"),
  /** space-separated: "connection:NAME" and "action:ACTION" items narrow the child */
  scope: z.string().max(4000).optional(),
  expires_in: z.coerce.number().int().positive().max(90 * 24 * 3600).optional(),
});

function parseScope(scope: string | undefined) {
  const items = (scope ?? "").split(/\s+/).filter(Boolean);
  const connections: string[] = [];
  const actions: string[] = [];
  for (const item of items) {
    const [k, v] = item.split(":", 2);
    if (k === "connection" && v) connections.push(v);
    else if (k === "action" && v) actions.push(v);
    else throw new OAuthError("invalid_scope", `unknown scope item "${item}" (use connection:NAME and action:ACTION)`);
  }
  return { connections, actions };
}

/**
 * RFC 8693 token exchange: a parent presents its token and names the actor; the child token
 * carries the full chain (stored server-side), `sub` = the root user, depth + 1, and a scope
 * and lifetime that can only shrink. The parent is verified completely (signature, revocation,
 * expiry, owner enabled) and every limit is checked against its STORED row.
 */
export async function exchangeToken(db: Db, input: unknown, address: string) {
  const parsed = exchangeInput.safeParse(input);
  if (!parsed.success) throw new OAuthError("invalid_request", parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
  const req = parsed.data;
  if (req.grant_type !== TOKEN_EXCHANGE) throw new OAuthError("unsupported_grant_type", `grant_type must be ${TOKEN_EXCHANGE}`);
  if (!SUBJECT_TYPES.includes(req.subject_token_type)) throw new OAuthError("invalid_request", "unsupported subject_token_type");

  let parent;
  try {
    parent = await verifyToken(db, req.subject_token);
  } catch (err) {
    await auditRefusal(db, null, address, err instanceof GatehouseError ? err.message : "invalid subject_token");
    throw new OAuthError("invalid_grant", err instanceof GatehouseError ? err.message : "invalid subject_token");
  }
  const [row] = await db.select({ id: tokens.id, kind: tokens.kind, expiresAt: tokens.expiresAt, depth: tokens.depth, scopeConnections: tokens.scopeConnections, scopeActions: tokens.scopeActions }).from(tokens).where(eq(tokens.id, parent.tokenId!));
  if (!row || row.kind === "ticket") throw new OAuthError("invalid_grant", "this token cannot be exchanged");
  if (req.actor_token) {
    // The actor proves its own identity; it must belong to the same human (no borrowing another's agent).
    const actor = await verifyToken(db, req.actor_token).catch(() => null);
    if (!actor || actor.userId !== parent.userId) throw new OAuthError("invalid_grant", "actor_token is not valid for this subject");
  }
  const scope = parseScope(req.scope);
  const n = narrow(row, { connections: scope.connections, actions: scope.actions, ttlSeconds: req.expires_in });
  if (!n.ok) {
    await auditRefusal(db, parent, address, n.description);
    throw new OAuthError(n.error, n.description);
  }
  const chain: StoredActor[] = [...parent.chain, { kind: "agent", id: req.actor, name: req.actor }];
  const keys = await getSigningKeys(db);
  const issued = await mutate(db, async (tx) => {
    const t = await issueToken(tx, keys, {
      userId: parent.userId,
      email: parent.email,
      kind: "delegated",
      name: req.actor,
      ttlSeconds: n.ttlSeconds,
      chain,
      parentTokenId: row.id,
      scopeConnections: n.connections,
      scopeActions: n.actions,
    });
    await appendAudit(tx, { userId: parent.userId, email: parent.email }, {
      action: "token.exchange",
      subject: `token:${t.id}`,
      detail: { parent: row.id, actor: req.actor, depth: n.depth, chain: chain.map((a) => a.name), connections: n.connections, actions: n.actions, ttlSeconds: n.ttlSeconds, address },
    });
    return t;
  });
  return {
    access_token: issued.token,
    issued_token_type: JWT_TOKEN_TYPE,
    token_type: "Bearer",
    expires_in: n.ttlSeconds,
    scope: [...n.connections.map((c) => `connection:${c}`), ...n.actions.map((a) => `action:${a}`)].join(" "),
    token_id: issued.id,
    depth: n.depth,
  };
}

async function auditRefusal(db: Db, who: { userId: string; email: string } | null, address: string, reason: string) {
  await mutate(db, (tx) => appendAudit(tx, who, { action: "token.exchange_refused", subject: `user:${who?.email ?? "?"}`, detail: { reason, address } })).catch(() => {});
}
