import { and, eq, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { connections } from "@/db/schema";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/**
 * Trust on first use for an SSH upstream: records the host key fingerprint the gateway saw the
 * first time, unless one is pinned already (then the caller compares and refuses a mismatch).
 * Conditional on "no pin yet", so two first connections racing cannot pin different keys:
 * the loser reads back the winner's pin. Audited: a pin is a security decision.
 */
export async function pinHostKey(db: Db, connectionId: string, fingerprint: string): Promise<string> {
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .update(connections)
      .set({ options: sql`${connections.options} || jsonb_build_object('hostKey', ${fingerprint}::text)` })
      .where(and(eq(connections.id, connectionId), sql`not (${connections.options} ? 'hostKey')`))
      .returning({ name: connections.name });
    if (!row) {
      const [current] = await tx.select({ options: connections.options }).from(connections).where(eq(connections.id, connectionId));
      return String(current?.options?.hostKey ?? "");
    }
    await appendAudit(tx, null, { action: "connection.host_key_pinned", subject: `connection:${row.name}`, detail: { fingerprint } });
    emit(Topics.connectionChanged, { id: connectionId });
    return fingerprint;
  });
}
