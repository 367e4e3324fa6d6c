import { createHash, randomUUID } from "node:crypto";
import { and, eq, inArray, isNotNull, isNull, lte, or } from "drizzle-orm";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import type { Db, Tx } from "@/db/client";
import { groups, memberships, tokens, users, type StoredActor } from "@/db/schema";
import { GatehouseError, type Principal, type Role } from "@/lib/gateway/core/types";
import { getSigningKeys, type SigningKeys } from "./keys";

export const ISSUER = "gatehouse";
export const AUDIENCE = "gatehouse";

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

export interface IssueInput {
  userId: string;
  email: string;
  kind: "personal" | "login" | "delegated" | "ticket";
  name?: string;
  ttlSeconds: number;
  chain: StoredActor[];
  parentTokenId?: string | null;
  scopeConnections?: string[];
  scopeActions?: string[];
  audience?: string;
}

/**
 * Signs a token and stores only its hash. Call inside the service's transaction, with keys
 * loaded BEFORE it opened: on PGlite a query outside the open transaction would wait for it.
 */
export async function issueToken(tx: Tx, keys: SigningKeys, input: IssueInput): Promise<{ token: string; id: string; expiresAt: Date }> {
  const id = randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const expiresAt = new Date((now + input.ttlSeconds) * 1000);
  const depth = input.chain.length - 1;
  const token = await new SignJWT({
    email: input.email,
    kind: input.kind,
    depth,
    ...(depth > 0 ? { act: nestActors(input.chain) } : {}),
  })
    .setProtectedHeader({ alg: "EdDSA", kid: keys.kid, typ: "JWT" })
    .setIssuer(ISSUER)
    .setAudience(input.audience ?? AUDIENCE)
    .setSubject(input.userId)
    .setJti(id)
    .setIssuedAt(now)
    .setExpirationTime(now + input.ttlSeconds)
    .sign(keys.privateKey);
  await tx.insert(tokens).values({
    id,
    tokenHash: hashToken(token),
    userId: input.userId,
    name: input.name ?? "",
    kind: input.kind,
    parentTokenId: input.parentTokenId ?? null,
    // The current actor's link names this token; a ticket is a narrower credential of the same
    // actor, not a new one, so its chain keeps naming the actor's own token (whose branch's
    // sessions, grants and requests the ticket's then belong to).
    chain: input.kind === "ticket" ? input.chain : input.chain.map((a, i) => (i === input.chain.length - 1 ? { ...a, tokenId: id } : a)),
    depth,
    scopeConnections: input.scopeConnections ?? ["*"],
    scopeActions: input.scopeActions ?? ["*"],
    expiresAt,
  });
  return { token, id, expiresAt };
}

/** RFC 8693 §4.1: the current actor is outermost, prior actors nest inside `act`. */
function nestActors(chain: StoredActor[]): Record<string, unknown> | undefined {
  let act: Record<string, unknown> | undefined;
  for (const a of chain.slice(1)) act = { sub: `${a.kind}:${a.name}`, ...(act ? { act } : {}) };
  return act;
}

/**
 * Whether a token it descends from (its stored chain's, its parent) is revoked: a child exchanged
 * while its parent was being revoked could otherwise outlive it.
 */
export async function hasRevokedAncestor(db: Db, row: { id: string; chain: StoredActor[]; parentTokenId: string | null }): Promise<boolean> {
  const ancestors = row.chain.map((a) => a.tokenId).filter((id): id is string => !!id && id !== row.id);
  if (row.parentTokenId && !ancestors.includes(row.parentTokenId)) ancestors.push(row.parentTokenId);
  if (!ancestors.length) return false;
  const revoked = await db.select({ id: tokens.id }).from(tokens).where(and(inArray(tokens.id, ancestors), isNotNull(tokens.revokedAt))).limit(1);
  return revoked.length > 0;
}

/**
 * Whether a token a request's chain names was revoked or has run out: what that credential asked
 * an approver for (a grant, a window) must not be given to it any more. Revocation also cancels
 * such requests; this covers the ones that raced it and the ones whose token simply expired.
 */
export async function chainCredentialEnded(db: Db | Tx, chain: readonly { tokenId?: string }[]): Promise<boolean> {
  const ids = chain.map((a) => a.tokenId).filter((id): id is string => !!id);
  if (!ids.length) return false;
  const ended = await db
    .select({ id: tokens.id })
    .from(tokens)
    .where(and(inArray(tokens.id, ids), or(isNotNull(tokens.revokedAt), lte(tokens.expiresAt, new Date()))))
    .limit(1);
  return ended.length > 0;
}

/**
 * Verifies a presented token completely: signature (EdDSA only — `alg:none` and HS* are refused
 * by the algorithm allow-list), issuer, audience, expiry, then the stored row (revocation,
 * expiry, disabled owner). The principal is built from the STORED chain and scope, never from
 * claims, so a forged `act` claim changes nothing.
 */
export async function verifyToken(db: Db, token: string, opts: { audience?: string; allowTicket?: boolean } = {}): Promise<Principal> {
  if (typeof token !== "string" || token.length < 20 || token.length > 8192) throw new GatehouseError("UNAUTHENTICATED", "malformed token");
  const keys = await getSigningKeys(db);
  let claims;
  try {
    ({ payload: claims } = await jwtVerify(token, keys.publicKey, {
      algorithms: ["EdDSA"],
      issuer: ISSUER,
      audience: opts.audience ?? AUDIENCE,
    }));
  } catch (err) {
    const why = err instanceof joseErrors.JWTExpired ? "token expired" : err instanceof joseErrors.JWTClaimValidationFailed ? `token ${err.claim} is not valid here` : "invalid token";
    throw new GatehouseError("UNAUTHENTICATED", why);
  }
  const [row] = await db
    .select({
      id: tokens.id,
      userId: tokens.userId,
      kind: tokens.kind,
      parentTokenId: tokens.parentTokenId,
      lastUsedAt: tokens.lastUsedAt,
      chain: tokens.chain,
      scopeConnections: tokens.scopeConnections,
      scopeActions: tokens.scopeActions,
      expiresAt: tokens.expiresAt,
      revokedAt: tokens.revokedAt,
      email: users.email,
      role: users.role,
      disabled: users.disabled,
    })
    .from(tokens)
    .innerJoin(users, eq(users.id, tokens.userId))
    .where(eq(tokens.tokenHash, hashToken(token)));
  if (!row || row.id !== claims.jti || row.userId !== claims.sub) throw new GatehouseError("UNAUTHENTICATED", "unknown token");
  if (row.revokedAt) throw new GatehouseError("UNAUTHENTICATED", "token revoked");
  if (row.expiresAt.getTime() <= Date.now()) throw new GatehouseError("UNAUTHENTICATED", "token expired");
  if (row.disabled) throw new GatehouseError("UNAUTHENTICATED", "account disabled");
  if (await hasRevokedAncestor(db, row)) throw new GatehouseError("UNAUTHENTICATED", "token revoked");
  if (row.kind === "ticket") await consumeTicket(db, row, opts.allowTicket === true);
  return {
    userId: row.userId,
    email: row.email,
    role: row.role as Role,
    groups: await groupNamesOf(db, row.userId),
    chain: row.chain.map((a) => ({ ...a })),
    tokenId: row.id,
    parentTokenId: row.parentTokenId,
    expiresAt: row.kind === "ticket" ? await ticketSessionExpiry(db, row) : row.expiresAt,
    credentialKind: row.kind,
    scopeConnections: row.scopeConnections,
    scopeActions: row.scopeActions,
  };
}

/**
 * A ticket only gates one connection (60 s); the session it opens must still end when the token
 * it was minted from expires, or a ticket would outlive a short-lived (delegated) token by as long
 * as the client keeps the connection open. A ticket without a parent lives only as long as itself.
 */
async function ticketSessionExpiry(db: Db, row: { parentTokenId: string | null; expiresAt: Date }): Promise<Date> {
  if (!row.parentTokenId) return row.expiresAt;
  const [parent] = await db.select({ expiresAt: tokens.expiresAt }).from(tokens).where(eq(tokens.id, row.parentTokenId));
  if (!parent) throw new GatehouseError("UNAUTHENTICATED", "unknown token");
  return parent.expiresAt;
}

/**
 * A connection ticket is good for exactly one gateway connection: the first use flips
 * last_used_at in one conditional UPDATE, so two racing uses cannot both succeed. Tickets are
 * refused everywhere else (REST API, token exchange), so one cannot be turned into a session.
 */
async function consumeTicket(db: Db, row: { id: string; lastUsedAt: Date | null }, allowed: boolean) {
  if (!allowed) throw new GatehouseError("UNAUTHENTICATED", "connection tickets are accepted only by the gateways");
  const used = await db
    .update(tokens)
    .set({ lastUsedAt: new Date() })
    .where(and(eq(tokens.id, row.id), isNull(tokens.lastUsedAt)))
    .returning({ id: tokens.id });
  if (!used.length) throw new GatehouseError("UNAUTHENTICATED", "connection ticket already used");
}

export async function groupNamesOf(db: Db | Tx, userId: string): Promise<string[]> {
  const rows = await db.select({ name: groups.name }).from(memberships).innerJoin(groups, eq(groups.id, memberships.groupId)).where(eq(memberships.userId, userId));
  return rows.map((r) => r.name).sort();
}

/** Token ids of `rootIds` and all their descendants (delegation tree), for revocation cascades. */
export async function descendantTokenIds(db: Db | Tx, rootIds: string[]): Promise<string[]> {
  const all = new Set(rootIds);
  let frontier = rootIds;
  while (frontier.length) {
    const children = await db.select({ id: tokens.id }).from(tokens).where(inArray(tokens.parentTokenId, frontier));
    frontier = children.map((c) => c.id).filter((id) => !all.has(id));
    frontier.forEach((id) => all.add(id));
  }
  return [...all];
}

export async function activeTokenIdsOfUser(db: Db | Tx, userId: string): Promise<string[]> {
  const rows = await db.select({ id: tokens.id }).from(tokens).where(and(eq(tokens.userId, userId)));
  return rows.map((r) => r.id);
}
