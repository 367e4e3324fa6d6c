import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { connections } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

export async function deleteConnection(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "connections:write");
  return mutate(db, async (tx, emit) => {
    const [row] = await tx.delete(connections).where(eq(connections.id, id)).returning({ id: connections.id, name: connections.name });
    if (!row) throw new GatehouseError("NOT_FOUND", "no such connection");
    await appendAudit(tx, who, { action: "connection.delete", subject: `connection:${row.name}` });
    emit(Topics.connectionChanged, { id: row.id, deleted: true });
    return { id: row.id };
  });
}
