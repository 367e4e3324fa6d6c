import { and, eq, gt, isNull, or, sql } from "drizzle-orm";
import type { Db } from "@/db/client";
import { approvalRequests } from "@/db/schema";
import type { Caller } from "@/lib/auth/caller";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";

export interface ConsumeInput {
  id: number;
  /** the binding of what is about to run; must equal the approved one */
  bindingHash: string;
  /** the session about to run it; a single-use approval is only good in the session that asked */
  sessionId?: string | null;
  actor: Pick<Caller, "userId" | "email">;
}

/**
 * Turns an approval into permission to run, exactly once. A plain approval flips
 * approved → used in one conditional UPDATE, so two sessions (or two processes) racing for it
 * cannot both win. A windowed approval is not flipped: it stays good for the same binding until
 * windowUntil. Either way the binding hash must match: an approval for A never runs B.
 */
export async function consumeApproval(db: Db, input: ConsumeInput): Promise<{ ok: true; windowed: boolean } | { ok: false }> {
  return mutate(db, async (tx) => {
    const sameRequest = and(eq(approvalRequests.id, input.id), eq(approvalRequests.bindingHash, input.bindingHash), eq(approvalRequests.status, "approved"));
    const [single] = await tx
      .update(approvalRequests)
      .set({ status: "used" })
      .where(
        and(
          sameRequest,
          isNull(approvalRequests.windowUntil),
          // requests created without a session (API, tests) have none to match
          or(isNull(approvalRequests.sessionId), sql`${approvalRequests.sessionId} is not distinct from ${input.sessionId ?? null}::uuid`),
        ),
      )
      .returning({ id: approvalRequests.id });
    let windowed = false;
    if (!single) {
      const [win] = await tx.select({ id: approvalRequests.id }).from(approvalRequests).where(and(sameRequest, gt(approvalRequests.windowUntil, new Date())));
      if (!win) return { ok: false as const };
      windowed = true;
    }
    await appendAudit(tx, input.actor, { action: "approval.use", subject: `approval:${input.id}`, detail: { windowed, sessionId: input.sessionId ?? null } });
    return { ok: true as const, windowed };
  });
}
