import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessions } from "@/db/schema";
import { recordSessionEnd } from "./record-end";

/**
 * A session killed from the console is stored `killed` at once (killSession); the process serving
 * it may learn of it only at its next heartbeat. If the client leaves first, the session ends
 * itself as `ended` — which must not overwrite the kill (nor a `failed` set by node liveness).
 */
describe("recordSessionEnd never downgrades a session's final status", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  const session = async (status: string, endReason: string | null = null) => {
    const [row] = await handle.db
      .insert(sessions)
      .values({ userEmail: "alice@example.test", chain: [], connectionName: "box", protocol: "ssh", status, endReason, endedAt: status === "live" ? null : new Date() })
      .returning({ id: sessions.id });
    return row.id;
  };
  const stored = async (id: string) => (await handle.db.select({ status: sessions.status, endReason: sessions.endReason }).from(sessions).where(eq(sessions.id, id)))[0];

  it("a killed session whose client then left stays killed, with the kill's reason", async () => {
    const id = await session("killed", "session ended by an administrator (admin@example.test)");
    // ...and says so, for what the session tells its live viewers
    expect(await recordSessionEnd(handle.db, id, { status: "ended", endReason: null, endedAt: new Date() })).toBe("killed");
    expect(await stored(id)).toEqual({ status: "killed", endReason: "session ended by an administrator (admin@example.test)" });
  });

  it("a failed session stays failed", async () => {
    const id = await session("failed", "the Gatehouse process serving this session stopped");
    await recordSessionEnd(handle.db, id, { status: "ended", endReason: null, endedAt: new Date() });
    await recordSessionEnd(handle.db, id, { status: "killed", endReason: "too late", endedAt: new Date() });
    expect((await stored(id)).status).toBe("failed");
  });

  it("a live session ends as it says; the kill it learns of later may complete its own row", async () => {
    const live = await session("live");
    expect(await recordSessionEnd(handle.db, live, { status: "ended", endReason: null, endedAt: new Date() })).toBe("ended");
    expect(await stored(live)).toEqual({ status: "ended", endReason: null });
    const killed = await session("killed", "session ended by an administrator");
    await recordSessionEnd(handle.db, killed, { status: "killed", endReason: "session ended by an administrator (3 events could not be recorded)", endedAt: new Date() });
    expect(await stored(killed)).toEqual({ status: "killed", endReason: "session ended by an administrator (3 events could not be recorded)" });
  });
});
