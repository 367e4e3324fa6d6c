import type { connections } from "@/db/schema";
import { managedBranchOf } from "@/lib/auth/agent-branch";
import type { Caller } from "@/lib/auth/caller";
import { upstreamWithoutPassword } from "./input";

type Row = typeof connections.$inferSelect;

/** The only shape of a connection that leaves the server: the secret is reduced to "is one set", the upstream loses any password. */
export function toPublicConnection(row: Row) {
  return {
    id: row.id,
    name: row.name,
    type: row.type,
    upstream: upstreamWithoutPassword(row.upstream),
    username: row.username,
    tags: row.tags,
    options: row.options,
    description: row.description,
    hasSecret: Boolean(row.secretCiphertext),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

export type PublicConnection = ReturnType<typeof toPublicConnection>;

/**
 * A connection as this caller may see it. A delegated agent (or a narrowed script token) gets
 * what MCP's list_connections gives it — name, type, tags, description — and not the upstream
 * address, user name or options: it has no use for them, and they would let it try to go around
 * Gatehouse. The same token on the REST API must not learn what the MCP endpoint withholds.
 */
export function connectionFor(caller: Caller, row: Row) {
  const c = toPublicConnection(row);
  if (managedBranchOf(caller) === null) return c;
  return { id: c.id, name: c.name, type: c.type, tags: c.tags, description: c.description };
}
