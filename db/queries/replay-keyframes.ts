import { and, eq } from "drizzle-orm";
import type { Db } from "../client";
import { replayKeyframes } from "../schema";

/** The stored keyframes of one ended terminal channel, if prepared (lib/gateway/recorder/replay/store.ts). */
export async function storedKeyframes(db: Db, sessionId: string, ch: number): Promise<{ format: number; data: string } | null> {
  const [row] = await db.select({ format: replayKeyframes.format, data: replayKeyframes.data }).from(replayKeyframes).where(and(eq(replayKeyframes.sessionId, sessionId), eq(replayKeyframes.ch, ch)));
  return row ?? null;
}
