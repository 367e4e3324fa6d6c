import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";

export const ORPHANED_REASON = "the Gatehouse process serving it stopped without ending it";

/**
 * Sessions still `live` when the embedded database opens belonged to the process that had it
 * open before, which is gone (only one process opens an embedded data dir): they are marked
 * failed, so the console stops showing them live and their replay can be prepared. Not for a
 * shared PostgreSQL, where other processes' live sessions are really live.
 * Returns the sessions ended.
 */
export async function endOrphanedSessions(db: Db): Promise<{ id: string; userId: string | null }[]> {
  return db
    .update(sessions)
    .set({ status: "failed", endReason: ORPHANED_REASON, endedAt: new Date() })
    .where(eq(sessions.status, "live"))
    .returning({ id: sessions.id, userId: sessions.userId });
}
