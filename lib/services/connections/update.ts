import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { connections } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { seal } from "@/lib/crypto/secrets";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { connectionPatch } from "./input";
import { toPublicConnection } from "./public";

export async function updateConnection(db: Db, caller: Caller | null, id: string, input: unknown) {
  const who = authorize(caller, "connections:write");
  const { secret, ...patch } = connectionPatch.parse(input);
  return mutate(db, async (tx, emit) => {
    const values: Partial<typeof connections.$inferInsert> = { ...patch, updatedAt: new Date() };
    if (secret !== undefined) values.secretCiphertext = secret === "" ? null : seal(secret);
    const [row] = await tx.update(connections).set(values).where(eq(connections.id, id)).returning();
    if (!row) throw new GatehouseError("NOT_FOUND", "no such connection");
    const changed = Object.keys(patch).concat(secret !== undefined ? ["secret"] : []);
    await appendAudit(tx, who, { action: "connection.update", subject: `connection:${row.name}`, detail: { changed } });
    emit(Topics.connectionChanged, { id: row.id });
    return toPublicConnection(row);
  });
}
