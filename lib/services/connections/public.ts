import type { connections } from "@/db/schema";
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
