import type { Db } from "@/db/client";
import { replayKeyframes } from "@/db/schema";

/**
 * Keeps a channel's replay keyframes for every Gatehouse process on this database. A cache of
 * what `session_events` already holds (masked screen content), so not audited; the last writer
 * wins, which is harmless since every writer computed the same keyframes.
 */
export async function keepKeyframes(db: Db, sessionId: string, ch: number, format: number, data: string): Promise<void> {
  await db
    .insert(replayKeyframes)
    .values({ sessionId, ch, format, data })
    .onConflictDoUpdate({ target: [replayKeyframes.sessionId, replayKeyframes.ch], set: { format, data, createdAt: new Date() } });
}
