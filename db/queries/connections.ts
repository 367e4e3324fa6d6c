import { asc, eq } from "drizzle-orm";
import type { Db } from "../client";
import { connections } from "../schema";

const publicColumns = {
  id: connections.id,
  name: connections.name,
  type: connections.type,
  upstream: connections.upstream,
  username: connections.username,
  tags: connections.tags,
  options: connections.options,
  description: connections.description,
  secretCiphertext: connections.secretCiphertext,
  createdAt: connections.createdAt,
  updatedAt: connections.updatedAt,
};

export function listConnections(db: Db) {
  return db.select(publicColumns).from(connections).orderBy(asc(connections.name));
}

export async function getConnection(db: Db, params: { id?: string; name?: string }) {
  const where = params.id ? eq(connections.id, params.id) : eq(connections.name, params.name ?? "");
  const [row] = await db.select(publicColumns).from(connections).where(where);
  return row ?? null;
}
