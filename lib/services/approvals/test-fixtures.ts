/**
 * An in-memory Gatehouse database with the people an approval needs: a requester, approvers in
 * "approvers" and "dba", an admin outside every group, and two connections. Shared by the
 * approvals and access unit tests.
 */
import { openPglite, type Db, type DbHandle } from "@/db/client";
import { connections, users } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import type { Actor, GatewayRequest, Principal, Role } from "@/lib/gateway/core/types";
import { setMemberships } from "@/lib/services/users/memberships";

export interface Person {
  id: string;
  email: string;
  role: Role;
  groups: string[];
  caller: Caller;
}

export interface ApprovalsFixture {
  handle: DbHandle;
  db: Db;
  people: Record<"alice" | "bob" | "carol" | "dave" | "admin" | "adminApprover" | "mallory", Person>;
  conn: { id: string; name: string; type: "postgres"; tags: string[] };
  otherConn: { id: string; name: string; type: "postgres"; tags: string[] };
}

const PEOPLE: [keyof ApprovalsFixture["people"], Role, string[]][] = [
  ["alice", "member", []], // the requester
  ["bob", "approver", ["approvers"]],
  ["carol", "approver", ["approvers", "dba"]],
  ["dave", "approver", ["dba"]],
  ["admin", "admin", []], // an admin in no approver group
  ["adminApprover", "admin", ["approvers"]],
  ["mallory", "member", ["approvers"]], // in the group but without approvals:decide
];

/** In-memory PGlite by default; pass an opened handle (e.g. `openPostgres(url)`) for PostgreSQL. */
export async function approvalsFixture(opened?: DbHandle): Promise<ApprovalsFixture> {
  const handle = opened ?? (await openPglite(null));
  const db = handle.db;
  const people = {} as ApprovalsFixture["people"];
  for (const [key, role, groups] of PEOPLE) {
    const email = `${key.toLowerCase()}@example.test`;
    const [row] = await db.insert(users).values({ email, role }).returning({ id: users.id });
    if (groups.length) await db.transaction((tx) => setMemberships(tx, row.id, groups));
    people[key] = { id: row.id, email, role, groups, caller: { userId: row.id, email, role, groups, via: "session" } };
  }
  const [c1] = await db.insert(connections).values({ name: "billing-db", type: "postgres", upstream: "postgres://127.0.0.1:1/billing", tags: ["prod"] }).returning({ id: connections.id });
  const [c2] = await db.insert(connections).values({ name: "other-db", type: "postgres", upstream: "postgres://127.0.0.1:1/other" }).returning({ id: connections.id });
  return {
    handle,
    db,
    people,
    conn: { id: c1.id, name: "billing-db", type: "postgres", tags: ["prod"] },
    otherConn: { id: c2.id, name: "other-db", type: "postgres", tags: [] },
  };
}

/** A principal for `p`, optionally through agents (each agent is one more link of the chain). */
export function principalOf(p: Person, agents: string[] = [], extraChain: Actor[] = []): Principal {
  const chain: Actor[] = [{ kind: "user", id: p.id, name: p.email }, ...extraChain, ...agents.map((a): Actor => ({ kind: "agent", id: a, name: a }))];
  return { userId: p.id, email: p.email, role: p.role, groups: p.groups, chain, tokenId: null, scopeConnections: ["*"], scopeActions: ["*"] };
}

export function statement(principal: Principal, conn: ApprovalsFixture["conn"], text: string, params?: (string | null)[]): GatewayRequest {
  return {
    principal,
    connection: conn,
    client: { address: "127.0.0.1", protocol: "postgres", origin: "native" },
    request: { action: "write", kind: "write", tables: ["invoices"], functions: [], text, ...(params ? { params } : {}) },
  };
}
