import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SessionGrants } from "./session-grants";
import type { AccessGrant } from "./types";

const grant = (id: string, inMs: number): AccessGrant => ({ id, connectionId: "c", expiresAt: new Date(Date.now() + inMs) });

describe("SessionGrants", () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  it("reads at most every 5 s unless invalidated", async () => {
    const load = vi.fn(async () => [grant("a", 60_000)]);
    const grants = new SessionGrants(load, () => {});
    await grants.current();
    await grants.current();
    expect(load).toHaveBeenCalledTimes(1);
    grants.invalidate();
    await grants.current();
    expect(load).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(5_001);
    await grants.current();
    expect(load).toHaveBeenCalledTimes(3);
    grants.stop();
  });

  it("reports the first expiry just after it, then reads again", async () => {
    let list = [grant("late", 120_000), grant("soon", 30_000)];
    const load = vi.fn(async () => list);
    const expired = vi.fn();
    const grants = new SessionGrants(load, expired);
    await grants.current();
    vi.advanceTimersByTime(29_999);
    expect(expired).not.toHaveBeenCalled();
    vi.advanceTimersByTime(100);
    expect(expired).toHaveBeenCalledTimes(1);
    list = [list[0]];
    expect(await grants.current()).toEqual(list);
    expect(load).toHaveBeenCalledTimes(2);
    grants.stop();
    vi.advanceTimersByTime(200_000);
    expect(expired).toHaveBeenCalledTimes(1);
  });

  it("does not keep a read that began before a change (it may hold a revoked grant)", async () => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let list = [grant("revoked-soon", 60_000)];
    const load = vi.fn(async () => {
      const seen = list;
      if (load.mock.calls.length === 1) await slow;
      return seen;
    });
    const grants = new SessionGrants(load, () => {});
    const first = grants.current();
    list = []; // revoked while the first read was on its way
    grants.invalidate();
    expect(await grants.current()).toEqual([]);
    release();
    expect(await first).toHaveLength(1); // its caller decided before the change: rechecked by it
    expect(await grants.current()).toEqual([]);
    expect(load).toHaveBeenCalledTimes(2);
    grants.stop();
  });

  it("with staleOk, a failed read falls back to the last grants read, unless a change was announced since", async () => {
    let fail = false;
    const load = vi.fn(async () => {
      if (fail) throw new Error("database unavailable");
      return [grant("g", 600_000)];
    });
    const grants = new SessionGrants(load, () => {});
    await grants.current();
    fail = true;
    vi.advanceTimersByTime(5_001);
    await expect(grants.current()).rejects.toThrow("database unavailable");
    expect(await grants.current({ staleOk: true })).toEqual([expect.objectContaining({ id: "g" })]);
    grants.invalidate();
    await expect(grants.current({ staleOk: true })).rejects.toThrow("database unavailable");
    grants.stop();
  });

  it("watches nothing without grants or once stopped", async () => {
    const expired = vi.fn();
    const none = new SessionGrants(async () => [], expired);
    await none.current();
    const stopped = new SessionGrants(async () => [grant("a", 1_000)], expired);
    stopped.stop();
    await stopped.current();
    vi.advanceTimersByTime(10_000);
    expect(expired).not.toHaveBeenCalled();
  });
});
