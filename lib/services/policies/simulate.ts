import { z } from "zod";
import type { Db } from "@/db/client";
import { getConnection } from "@/db/queries/connections";
import { getUserByEmail } from "@/db/queries/users";
import { authorize, can } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError, type Actor, type ClassifiedRequest, type GatewayRequest, type PolicyAction, type RequestKind } from "@/lib/gateway/core/types";
import { getPolicyRuntime } from "@/lib/gateway/policy";
import { activeGrantsOf } from "@/db/queries/approvals";
import { classifyForConnection } from "@/lib/gateway/core/classify";
import { groupNamesOf } from "@/lib/identity/tokens";

export const simulateInput = z.object({
  principal: z.string().email(),
  /** agent names below the user, outermost last: ["claude", "sub-agent"] = depth 2 */
  agents: z.array(z.string().min(1).max(100)).max(8).default([]),
  connection: z.string().min(1).max(63),
  statement: z.string().max(100_000).optional(),
  action: z.enum(["connect", "read", "write", "ddl", "admin", "exec", "http", "tool"]).optional(),
  kind: z.enum(["read", "write", "ddl", "admin", "unknown"]).optional(),
  origin: z.enum(["native", "web-console", "mcp"]).default("native"),
  address: z.string().max(64).default("127.0.0.1"),
});

/**
 * "What would happen if…": builds the exact GatewayRequest a gateway would build (same
 * classifier, same principal and grants) and asks the loaded policies, never the cache.
 */
export async function simulatePolicy(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "policies:read");
  const data = simulateInput.parse(input);
  // Members may read the policies and try them on themselves. Another principal is someone
  // else's account: whether it exists, and what its groups and active grants let it do, is
  // user administration to know (users:read), asked before the lookup so it probes nothing.
  if (data.principal.toLowerCase() !== who.email.toLowerCase() && !can(who, "users:read")) {
    throw new GatehouseError("FORBIDDEN", "simulating another user needs users:read; members may simulate themselves");
  }
  const user = await getUserByEmail(db, data.principal);
  if (!user) throw new GatehouseError("NOT_FOUND", `no user ${data.principal}`);
  const conn = await getConnection(db, { name: data.connection });
  if (!conn) throw new GatehouseError("NOT_FOUND", `no connection ${data.connection}`);
  const chain: Actor[] = [{ kind: "user", id: user.id, name: user.email }, ...data.agents.map((name) => ({ kind: "agent" as const, id: name, name }))];
  const request = await buildRequest(conn.type, data);
  const req: GatewayRequest = {
    principal: { userId: user.id, email: user.email, role: user.role as never, groups: await groupNamesOf(db, user.id), chain, tokenId: null, scopeConnections: ["*"], scopeActions: ["*"] },
    connection: { id: conn.id, name: conn.name, type: conn.type, tags: conn.tags },
    client: { address: data.address, protocol: conn.type === "postgres" || conn.type === "mysql" || conn.type === "ssh" || conn.type === "http" ? conn.type : "kubernetes", origin: data.origin },
    request,
    // a hypothetical agent holds no token: only the grants the user asked for themself hold for it
    grants: await activeGrantsOf(db, user.id, conn.id, []),
    now: new Date(),
  };
  return { request, simulation: getPolicyRuntime().simulate(req) };
}

async function buildRequest(type: string, data: z.infer<typeof simulateInput>): Promise<ClassifiedRequest> {
  if (data.action === "connect" || (!data.statement && !data.action)) return { action: "connect", kind: "read", tables: [], functions: [], text: "" };
  if (data.statement && !data.kind) return classifyForConnection(type, data.statement);
  const kind: RequestKind = data.kind ?? "unknown";
  const action: PolicyAction = data.action ?? (kind === "unknown" ? "write" : kind === "read" ? "read" : kind);
  return { action, kind, tables: [], functions: [], text: data.statement ?? "" };
}
