import { and, eq, gt, or, sql, type SQL } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { approvalRequests } from "@/db/schema";
import { Topics } from "@/lib/events/bus";

/** A request's chain names one of these tokens: it was made with one of them or below one. */
function chainNamesAny(tokenIds: readonly string[]): SQL {
  return sql`exists (select 1 from jsonb_array_elements(${approvalRequests.chain}) a where a->>'tokenId' in (${sql.join(tokenIds.map((id) => sql`${id}`), sql`, `)}))`;
}

/**
 * What an approver could still give to credentials that just ended (revoked tokens and their
 * descendants, or a disabled user's): time windows approved for their requests stop now, and
 * requests still waiting are cancelled. A waiting access request would otherwise still become a
 * grant when approved: for a revoked agent one nobody could use, but for a revoked script token of
 * the user's own (its chain is the user alone) one for every session its user opens.
 * Call inside the revoking transaction; `emit` publishes after commit.
 */
export async function endRequestsOfCredentials(
  tx: Tx,
  emit: (topic: string, data: unknown) => void,
  ended: { tokenIds: readonly string[]; userId?: string },
): Promise<{ endedWindows: number[]; cancelled: number[] }> {
  const whose = [ended.tokenIds.length ? chainNamesAny(ended.tokenIds) : undefined, ended.userId ? eq(approvalRequests.requesterId, ended.userId) : undefined].filter((c): c is SQL => !!c);
  if (!whose.length) return { endedWindows: [], cancelled: [] };
  const now = new Date();
  const windows = await tx
    .update(approvalRequests)
    .set({ windowUntil: now })
    .where(and(eq(approvalRequests.status, "approved"), gt(approvalRequests.windowUntil, now), or(...whose)))
    .returning({ id: approvalRequests.id });
  const cancelled = await tx
    .update(approvalRequests)
    .set({ status: "cancelled", decidedAt: now })
    .where(and(eq(approvalRequests.status, "pending"), or(...whose)))
    .returning({ id: approvalRequests.id });
  // A gateway hold waiting on one of them gives up at once (its session is ending anyway).
  for (const { id } of cancelled) emit(Topics.approvalDecided, { id, status: "cancelled" });
  return { endedWindows: windows.map((w) => w.id), cancelled: cancelled.map((c) => c.id) };
}
