import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { tokens, type StoredActor } from "@/db/schema";
import { loadConfig } from "@/lib/config/env";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { claimsExternalIssuer, verifyExternalToken } from "@/lib/identity/external-oidc";
import { getSigningKeys } from "@/lib/identity/keys";
import { narrow } from "@/lib/identity/narrowing";
import { issueToken, verifyToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { syncExternalUser } from "../users/external-sync";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
export const ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token";
const SUBJECT_TYPES = [JWT_TOKEN_TYPE, ACCESS_TOKEN_TYPE, ID_TOKEN_TYPE];

/** OAuth-style error (RFC 6749 §5.2) so token-exchange clients understand it. */
export class OAuthError extends Error {
  constructor(
    readonly error: "invalid_request" | "invalid_grant" | "invalid_scope" | "unsupported_grant_type" | "temporarily_unavailable",
    readonly description: string,
  ) {
    super(description);
  }
}

/**
 * An agent's name. Never email-shaped: an agent named like a person would read as that person in
 * chains and audit rows, and an agent named like an approver would lock that approver out of
 * deciding its requests (self-approval is refused by name). Tokens issued before keep working.
 */
const agentName = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((s) => !s.includes("@"), "must not contain @ (agent names must not look like a user's email)")
  .regex(/^[A-Za-z0-9_.:-]*$/, "letters, digits and _ . : - only");

const exchangeInput = z.object({
  grant_type: z.string(),
  subject_token: z.string().min(20).max(8192),
  subject_token_type: z.string().default(JWT_TOKEN_TYPE),
  actor_token: z.string().max(8192).optional(),
  actor_token_type: z.string().optional(),
  /**
   * Gatehouse extension: the name the new actor (agent) is known by in sessions and policy.
   * Required with a Gatehouse subject_token; optional with an external one (no actor = a root token).
   */
  actor: agentName.optional(),
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
  const oidc = loadConfig().oidc;
  if (req.subject_token_type === ID_TOKEN_TYPE && !oidc) throw new OAuthError("invalid_request", "external identities are not configured (GATEHOUSE_OIDC_ISSUER)");
  if (oidc && (req.subject_token_type === ID_TOKEN_TYPE || claimsExternalIssuer(req.subject_token, oidc.issuer))) return exchangeExternal(db, req, oidc, address);
  const actorName = req.actor;
  if (!actorName) throw new OAuthError("invalid_request", "actor: Required");

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
  const chain: StoredActor[] = [...parent.chain, { kind: "agent", id: actorName, name: actorName }];
  const keys = await getSigningKeys(db);
  const issued = await mutate(db, async (tx) => {
    const t = await issueToken(tx, keys, {
      userId: parent.userId,
      email: parent.email,
      kind: "delegated",
      name: actorName,
      ttlSeconds: n.ttlSeconds,
      chain,
      parentTokenId: row.id,
      scopeConnections: n.connections,
      scopeActions: n.actions,
    });
    await appendAudit(tx, { userId: parent.userId, email: parent.email }, {
      action: "token.exchange",
      subject: `token:${t.id}`,
      detail: { parent: row.id, actor: actorName, depth: n.depth, chain: chain.map((a) => a.name), connections: n.connections, actions: n.actions, ttlSeconds: n.ttlSeconds, address },
    });
    return t;
  });
  return tokenResponse(issued, n);
}

type ExchangeRequest = z.infer<typeof exchangeInput>;
type OidcConfig = NonNullable<ReturnType<typeof loadConfig>["oidc"]>;

/**
 * An OIDC ID token or JWT access token from the configured issuer, verified against its JWKS,
 * becomes a Gatehouse token for the user with that email: a root token (depth 0), or with
 * `actor` a root plus a delegated child under the usual narrowing. Nothing issued outlives the
 * external token. The root of an actor exchange is never handed out; it anchors the chain, so
 * revoking it (or the user) cascades as for any delegation.
 */
async function exchangeExternal(db: Db, req: ExchangeRequest, oidc: OidcConfig, address: string) {
  const via = { via: "oidc", issuer: oidc.issuer, subjectTokenType: req.subject_token_type };
  let identity;
  try {
    identity = await verifyExternalToken(req.subject_token, oidc);
  } catch (err) {
    if (err instanceof GatehouseError && err.code === "UNAVAILABLE") throw new OAuthError("temporarily_unavailable", err.message);
    const reason = err instanceof GatehouseError ? err.message : "invalid subject_token";
    await auditRefusal(db, null, address, reason, via);
    throw new OAuthError("invalid_grant", reason);
  }
  // An actor_token proves an agent belongs to the subject's user; for external subjects that
  // would need the mapping first — not supported rather than half-checked.
  if (req.actor_token) throw new OAuthError("invalid_request", "actor_token is not supported with an external subject_token");
  const scope = parseScope(req.scope);
  const rootTtl = Math.floor((identity.expiresAt.getTime() - Date.now()) / 1000);
  if (rootTtl < 1) throw new OAuthError("invalid_grant", "external token refused: token expired");
  const root = { scopeConnections: ["*"], scopeActions: ["*"], expiresAt: identity.expiresAt, depth: req.actor ? 0 : -1 };
  const n = narrow(root, { connections: scope.connections, actions: scope.actions, ttlSeconds: req.expires_in });
  const detail = { ...via, externalSubject: identity.subject, email: identity.email };
  if (!n.ok) {
    await auditRefusal(db, null, address, n.description, detail);
    throw new OAuthError(n.error, n.description);
  }
  const keys = await getSigningKeys(db);
  let issued;
  try {
    issued = await mutate(db, async (tx, emit) => {
      const user = await syncExternalUser(tx, { ...identity, trustEmail: oidc.trustUnverifiedEmail, source: "oidc", create: oidc.autoCreateUsers });
      if (!user.ok) throw new OAuthError("invalid_grant", user.reason);
      if (user.groupsSynced) emit(Topics.userGroupsSynced, { userId: user.id });
      const userActor: StoredActor = { kind: "user", id: user.id, name: user.email };
      const base = { userId: user.id, email: user.email };
      const rootToken = await issueToken(tx, keys, {
        ...base,
        kind: "login",
        name: "oidc token exchange",
        ttlSeconds: req.actor ? rootTtl : n.ttlSeconds,
        chain: [userActor],
        scopeConnections: req.actor ? ["*"] : n.connections,
        scopeActions: req.actor ? ["*"] : n.actions,
      });
      const chain: StoredActor[] = [{ ...userActor, tokenId: rootToken.id }, ...(req.actor ? [{ kind: "agent" as const, id: req.actor, name: req.actor }] : [])];
      const t = req.actor
        ? await issueToken(tx, keys, { ...base, kind: "delegated", name: req.actor, ttlSeconds: n.ttlSeconds, chain, parentTokenId: rootToken.id, scopeConnections: n.connections, scopeActions: n.actions })
        : rootToken;
      await appendAudit(tx, base, {
        action: "token.exchange",
        subject: `token:${t.id}`,
        detail: { ...detail, userCreated: user.created, linked: user.linked, groups: user.groups, groupsSynced: user.groupsSynced, root: rootToken.id, actor: req.actor ?? null, depth: n.depth, chain: chain.map((a) => a.name), connections: n.connections, actions: n.actions, ttlSeconds: n.ttlSeconds, address },
      });
      return t;
    });
  } catch (err) {
    if (err instanceof OAuthError) await auditRefusal(db, null, address, err.description, detail);
    throw err;
  }
  return tokenResponse(issued, n);
}

/** RFC 8693 §2.2.1 response, plus Gatehouse's token_id and depth. */
function tokenResponse(issued: { token: string; id: string }, n: { ttlSeconds: number; connections: string[]; actions: string[]; depth: number }) {
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

async function auditRefusal(db: Db, who: { userId: string; email: string } | null, address: string, reason: string, extra: Record<string, unknown> = {}) {
  const subject = `user:${who?.email ?? (typeof extra.email === "string" ? extra.email : "?")}`;
  await mutate(db, (tx) => appendAudit(tx, who, { action: "token.exchange_refused", subject, detail: { ...extra, reason, address } })).catch(() => {});
}
