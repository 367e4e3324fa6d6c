import { Topics } from "@/lib/events/bus";
import { and, eq, isNull } from "drizzle-orm";
import { getGrant } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { accessGrants } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

/** Ends a grant before its time (approvers and admins). */
export async function revokeGrant(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "approvals:decide");
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) throw new GatehouseError("NOT_FOUND", "no such grant");
  const grant = await getGrant(db, id);
  if (!grant) throw new GatehouseError("NOT_FOUND", "no such grant");
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .update(accessGrants)
      .set({ revokedAt: new Date() })
      .where(and(eq(accessGrants.id, id), isNull(accessGrants.revokedAt)))
      .returning({ id: accessGrants.id, revokedAt: accessGrants.revokedAt });
    if (!row) throw new GatehouseError("CONFLICT", "this grant is already revoked");
    await appendAudit(tx, who, { action: "grant.revoke", subject: `grant:${id}`, detail: { userId: grant.userId, connectionId: grant.connectionId, approval: grant.requestId } });
    emit(Topics.grantRevoked, { id, userId: grant.userId, connectionId: grant.connectionId });
    return { id, revokedAt: row.revokedAt };
  });
}
