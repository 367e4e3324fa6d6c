import type { Db } from "@/db/client";
import { connections } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { seal } from "@/lib/crypto/secrets";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { connectionInput, upstreamWithoutPassword } from "./input";
import { toPublicConnection } from "./public";

export async function createConnection(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "connections:write");
  const data = connectionInput.parse(input);
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .insert(connections)
      .values({ ...data, secretCiphertext: data.secret ? seal(data.secret) : null })
      .onConflictDoNothing({ target: connections.name })
      .returning();
    if (!row) throw new GatehouseError("CONFLICT", `a connection named "${data.name}" already exists`);
    await appendAudit(tx, who, { action: "connection.create", subject: `connection:${row.name}`, detail: { type: row.type, upstream: upstreamWithoutPassword(row.upstream), tags: row.tags, secret: data.secret ? "set" : "none" } });
    emit(Topics.connectionChanged, { id: row.id });
    return toPublicConnection(row);
  });
}
