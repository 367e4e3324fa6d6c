import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { SessionRecorder } from "./recorder";

describe("SessionRecorder's clock", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());
  afterEach(() => vi.restoreAllMocks());

  it("keeps event times in order when the wall clock steps back (NTP, a resumed VM)", async () => {
    const rec = new SessionRecorder(handle.db, "00000000-0000-4000-8000-0000000c10c4");
    const times: number[] = [];
    times.push(rec.record("request", { text: "select 1" }).tMs);
    await new Promise((r) => setTimeout(r, 20));
    // the wall clock is set back an hour mid-session
    const back = Date.now() - 3_600_000;
    vi.spyOn(Date, "now").mockReturnValue(back);
    times.push(rec.record("result", { rows: 1 }).tMs);
    times.push(rec.record("request", { text: "select 2" }).tMs);
    vi.restoreAllMocks();
    expect(times[1]).toBeGreaterThanOrEqual(times[0]);
    expect(times[2]).toBeGreaterThanOrEqual(times[1]);
    expect(times[1]).toBeGreaterThanOrEqual(15);
    expect(await rec.close()).toBe(0);
  });
});
