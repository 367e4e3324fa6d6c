import { eq } from "drizzle-orm";
import { z } from "zod";
import type { Db } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { getUserByEmail, getUserForSession } from "@/db/queries/users";
import { tokens } from "@/db/schema";
import { authorize, can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError, type Actor, type ClassifiedRequest, type GatewayRequest, type PolicyAction, type Principal, type RequestKind } from "@/lib/gateway/core/types";
import { getPolicyRuntime } from "@/lib/gateway/policy";
import { activeGrantsOf } from "@/db/queries/approvals";
import { classifyAtUpstream, classifyForConnection, type UpstreamFindings } from "@/lib/gateway/core/classify";
import { loadUpstream } from "@/lib/gateway/core/upstream";
import { principalForUser } from "@/lib/gateway/core/user-principal";
import { grantLineage } from "@/lib/identity/grant-lineage";
import { hasRevokedAncestor } from "@/lib/identity/tokens";

export const simulateInput = z
  .object({
    /** the user making the request; with `token`, optional (it must then be the token's user) */
    principal: z.string().email().optional(),
    /** an existing token (its id) to simulate as: its delegation chain, scope and the grants that hold for it */
    token: z.string().uuid().optional(),
    /** agent names below the user (or the token's actor), outermost last: ["claude", "sub-agent"] = depth 2 */
    agents: z.array(z.string().min(1).max(100)).max(8).default([]),
    connection: z.string().min(1).max(63),
    statement: z.string().max(100_000).optional(),
    action: z.enum(["connect", "read", "write", "ddl", "admin", "exec", "http", "tool"]).optional(),
    kind: z.enum(["read", "write", "ddl", "admin", "unknown"]).optional(),
    origin: z.enum(["native", "web-console", "mcp"]).default("native"),
    address: z.string().max(64).default("127.0.0.1"),
  })
  .refine((d) => d.principal || d.token, { message: "give principal (an email) or token (a token id)" });

/**
 * "What would happen if…": builds the exact GatewayRequest a gateway would build (same
 * classifier, same principal and grants) and asks the loaded policies, never the cache. A
 * PostgreSQL statement is looked up in the upstream's catalog as the gateway does (code written
 * in the database makes it unknown); `upstream` says what that lookup found.
 * Simulating as someone else shows their groups and grants at work, so it needs users:read;
 * members simulate as themselves and with their own tokens.
 */
export async function simulatePolicy(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "policies:read");
  const data = simulateInput.parse(input);
  // Another principal is someone else's account: whether it exists, and what its groups and
  // grants let it do, is for those who may read users (approvers, auditors, admins).
  const mayActAs = (userId: string) => userId === who.userId || can(who, "users:read");
  const as = await simulatedPrincipal(db, data, mayActAs);
  const conn = await getConnection(db, { name: data.connection });
  if (!conn) throw new GatehouseError("NOT_FOUND", `no connection ${data.connection}`);
  const chain: Actor[] = [...as.chain, ...data.agents.map((name) => ({ kind: "agent" as const, id: name, name }))];
  const { request, upstream } = await buildRequest(db, conn.type, data);
  // The reason names functions and tables of a database the caller may have no access to: in
  // full for those who may read users (as for simulating as others), in general otherwise.
  if (upstream?.userCode && !can(who, "users:read")) upstream.userCode = "it runs code written in the database";
  const req: GatewayRequest = {
    principal: { ...as, chain },
    connection: { id: conn.id, name: conn.name, type: conn.type, tags: conn.tags },
    client: { address: data.address, protocol: conn.type === "postgres" || conn.type === "mysql" || conn.type === "ssh" || conn.type === "http" ? conn.type : "kubernetes", origin: data.origin },
    request,
    // A hypothetical agent holds no token of its own: the grants that hold for it are its
    // user's own and those of the token it would be exchanged from (none without `token`).
    grants: await activeGrantsOf(db, as.userId, conn.id, as.tokenId ? grantLineage(as) : []),
    now: new Date(),
  };
  return { request, ...(upstream ? { upstream } : {}), simulation: getPolicyRuntime().simulate(req) };
}

/** The user asked about, or the token's principal as the gateway would build it from its stored row. */
async function simulatedPrincipal(db: Db, data: z.infer<typeof simulateInput>, mayActAs: (userId: string) => boolean): Promise<Principal> {
  if (data.token) {
    const [t] = await db.select().from(tokens).where(eq(tokens.id, data.token));
    const user = t ? await getUserForSession(db, t.userId) : null;
    // Not found and not yours look the same, so token ids cannot be probed.
    if (!t || !user || !mayActAs(user.id)) throw new GatehouseError("NOT_FOUND", "no such token");
    if (data.principal && data.principal.toLowerCase() !== user.email) throw new GatehouseError("INVALID", `token ${t.id} is not ${data.principal}'s`);
    const revoked = t.revokedAt || (await hasRevokedAncestor(db, t));
    if (revoked || t.expiresAt.getTime() <= Date.now()) throw new GatehouseError("INVALID", `token ${t.id} is ${revoked ? "revoked" : "expired"}: the gateways refuse it before any policy`);
    const person = await principalForUser(db, user.id).catch(refusedAccount);
    return { ...person, chain: t.chain.map((a) => ({ ...a })), tokenId: t.id, parentTokenId: t.parentTokenId, credentialKind: t.kind, scopeConnections: t.scopeConnections, scopeActions: t.scopeActions };
  }
  const user = await getUserByEmail(db, data.principal!);
  // Whether the user exists is no member's business either: the same refusal.
  if (!mayActAs(user?.id ?? "")) throw new GatehouseError("FORBIDDEN", "you may simulate requests as yourself (and with your own tokens) only");
  if (!user) throw new GatehouseError("NOT_FOUND", `no user ${data.principal}`);
  return principalForUser(db, user.id).catch(refusedAccount);
}

/** A disabled account never reaches policy: said as a bad simulation input, not as the caller's own sign-in failing (401). */
function refusedAccount(err: unknown): never {
  throw err instanceof GatehouseError ? new GatehouseError("INVALID", `${err.message}: the gateways refuse it before any policy`) : err;
}

/** `upstream`: what the upstream's catalog added (classifyAtUpstream). */
async function buildRequest(db: Db, type: string, data: z.infer<typeof simulateInput>): Promise<{ request: ClassifiedRequest; upstream?: UpstreamFindings }> {
  if (data.action === "connect" || (!data.statement && !data.action)) return { request: { action: "connect", kind: "read", tables: [], functions: [], text: "" } };
  if (data.statement && !data.kind) {
    if (type !== "postgres") return { request: await classifyForConnection(type, data.statement) };
    const target = await loadUpstream(db, data.connection);
    if (!target) throw new GatehouseError("NOT_FOUND", `no connection ${data.connection}`);
    return classifyAtUpstream(target, data.statement);
  }
  const kind: RequestKind = data.kind ?? "unknown";
  const action: PolicyAction = data.action ?? (kind === "unknown" ? "write" : kind === "read" ? "read" : kind);
  return { request: { action, kind, tables: [], functions: [], text: data.statement ?? "" } };
}
