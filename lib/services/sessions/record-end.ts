import { and, eq, or } from "drizzle-orm";
import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { loggable } from "@/lib/util/loggable";

export interface SessionEnd {
  status: "ended" | "killed" | "failed";
  endReason: string | null;
  endedAt: Date;
}

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Writes how a session ended. If the database refuses (it is down), the write is retried in the
 * background until it lands: a session that ended during an outage otherwise stayed `live` for
 * good on a shared PostgreSQL (this process is alive, so no other one ends it), and the count of
 * events lost with it, which only this row records, was lost too. Resolves after the first
 * attempt, so ending a session never waits for the database to return: with the status the
 * session has now (a kill stored earlier stays), or null when it could not be written yet.
 */
export async function recordSessionEnd(db: Db, id: string, end: SessionEnd): Promise<string | null> {
  const stored = await attempt(db, id, end, 1);
  if (stored) return stored;
  const retry = (delay: number, n: number) => {
    setTimeout(() => void attempt(db, id, end, n).then((ok) => ok || retry(Math.min(delay * 2, MAX_RETRY_MS), n + 1)), delay).unref();
  };
  retry(FIRST_RETRY_MS, 2);
  return null;
}

async function attempt(db: Db, id: string, end: SessionEnd, n: number): Promise<string | null> {
  try {
    // Only a live session's row, or one already ending the same way: a final status is never
    // downgraded. A kill stored by killSession (or `failed` by node liveness) stays when the client
    // leaves before this process hears of it and the session ends itself as `ended`.
    const [row] = await db
      .update(sessions)
      .set(end)
      .where(and(eq(sessions.id, id), or(eq(sessions.status, "live"), eq(sessions.status, end.status))))
      .returning({ status: sessions.status });
    if (n > 1) console.error(`[gateway] session ${id}: its end was recorded at attempt ${n}`);
    if (row) return row.status;
    const [kept] = await db.select({ status: sessions.status }).from(sessions).where(eq(sessions.id, id));
    return kept?.status ?? end.status;
  } catch (err) {
    if (n === 1 || n % 10 === 0) console.error(`[gateway] could not close session ${id} (attempt ${n}), retrying:`, loggable(err));
    return null;
  }
}
