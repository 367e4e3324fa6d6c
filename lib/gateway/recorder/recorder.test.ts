import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessionEvents } from "@/db/schema";
import { SessionRecorder } from "./recorder";

describe("SessionRecorder", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  it("records a NUL byte (which jsonb refuses) visibly instead of losing the batch", async () => {
    const id = "00000000-0000-4000-8000-0000000000aa";
    const rec = new SessionRecorder(handle.db, id);
    rec.record("request", { text: "select $1", params: ["a\0b"] });
    rec.record("result", { rows: 1 });
    expect(await rec.close()).toBe(0);
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, id));
    expect(rows.map((r) => r.kind)).toEqual(["request", "result"]);
    expect(rows[0].payload).toEqual({ text: "select $1", params: ["a\u2400b"] });
  });
});
