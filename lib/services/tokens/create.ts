import { z } from "zod";
import type { Db } from "@/db/client";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError, type Principal } from "@/lib/gateway/core/types";
import { getSigningKeys } from "@/lib/identity/keys";
import { isSubset } from "@/lib/identity/narrowing";
import { issueToken } from "@/lib/identity/tokens";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

export const MAX_PERSONAL_TTL = 90 * 24 * 3600;

export const tokenInput = z.object({
  name: z.string().max(100).default(""),
  ttlSeconds: z.number().int().min(60).max(MAX_PERSONAL_TTL).default(30 * 24 * 3600),
  connections: z.array(z.string().min(1).max(63)).max(100).default(["*"]),
  actions: z.array(z.enum(["*", "connect", "read", "write", "ddl", "admin", "exec", "http", "tool"])).max(16).default(["*"]),
});

/** A personal token for the caller (console "Agents & tokens", `gatehouse tokens create`). */
export async function createPersonalToken(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "tokens:own");
  const data = tokenInput.parse(input);
  // A token can only be minted from a plain user credential; agents use token exchange.
  if (who.principal && who.principal.chain.length > 1) throw new GatehouseError("FORBIDDEN", "a delegated token cannot create personal tokens; use token exchange");
  if (who.principal) narrowToCaller(who.principal, data, input);
  const keys = await getSigningKeys(db);
  return mutate(db, async (tx) => {
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
    await appendAudit(tx, who, { action: "token.create", subject: `token:${issued.id}`, detail: { name: data.name, ttlSeconds: data.ttlSeconds, connections: data.connections, actions: data.actions } });
    return { ...issued, expiresAt: issued.expiresAt.toISOString(), name: data.name };
  });
}

/**
 * A token narrowed to some connections or actions (a script's, a CI job's) mints at most itself:
 * the same or fewer connections and actions, living no longer than it does. Without this it
 * minted an unrestricted 90-day token, and an admin's read-only script token became an admin.
 * What the request leaves out is taken from the caller, not widened to "*".
 */
function narrowToCaller(p: Principal, data: z.infer<typeof tokenInput>, input: unknown) {
  if (p.scopeConnections.includes("*") && p.scopeActions.includes("*")) return;
  const given = (input ?? {}) as Record<string, unknown>;
  if (given.connections === undefined) data.connections = [...p.scopeConnections];
  if (given.actions === undefined) data.actions = [...p.scopeActions] as typeof data.actions;
  if (!isSubset(data.connections, p.scopeConnections) || !isSubset(data.actions, p.scopeActions)) {
    throw new GatehouseError("FORBIDDEN", `this token is narrowed to connections [${p.scopeConnections.join(", ")}] and actions [${p.scopeActions.join(", ")}]; it cannot create a token beyond them`);
  }
  const left = Math.floor(((p.expiresAt?.getTime() ?? 0) - Date.now()) / 1000);
  if (given.ttlSeconds === undefined) data.ttlSeconds = Math.min(data.ttlSeconds, left);
  if (data.ttlSeconds < 60 || data.ttlSeconds > left) throw new GatehouseError("FORBIDDEN", `a token made by this narrowed token cannot outlive it (${Math.max(left, 0)} s left)`);
}
