import { describe, expect, it, vi } from "vitest";
import { loadStored, SeqFollower, type SessionEventMessage } from "./seq-follower";

const ev = (seq: number, payload: Record<string, unknown> = { ch: 0, d: `#${seq}` }): SessionEventMessage => ({ seq, tMs: seq, kind: "term.o", payload });

function follower() {
  const applied: { seq: number; live: boolean; payload: Record<string, unknown> }[] = [];
  const f = new SeqFollower((e, live) => applied.push({ seq: e.seq, live, payload: e.payload }));
  return { f, applied, seqs: () => applied.map((a) => a.seq) };
}

describe("SeqFollower", () => {
  it("buffers live events until the tail is written, then applies only those after it", () => {
    const { f, seqs } = follower();
    f.live(ev(4));
    f.live(ev(5));
    f.live(ev(6));
    expect(seqs()).toEqual([]);
    f.start(5);
    expect(seqs()).toEqual([6]);
    f.live(ev(7));
    f.live(ev(6));
    expect(seqs()).toEqual([6, 7]);
    expect(f.missingAfter).toBeNull();
  });

  it("asks for stored events across a hole and applies in order once it is filled", () => {
    const { f, seqs, applied } = follower();
    f.start(0);
    f.live(ev(1));
    f.live(ev(3));
    f.live(ev(4));
    expect(seqs()).toEqual([1]);
    expect(f.missingAfter).toBe(1);
    f.stored([ev(2), ev(3)]);
    expect(seqs()).toEqual([1, 2, 3, 4]);
    expect(applied.map((a) => a.live)).toEqual([true, false, true, true]);
    expect(f.missingAfter).toBeNull();
  });

  it("waits for the stored payload of an event announced as truncated", () => {
    const { f, applied } = follower();
    f.start(10);
    f.live(ev(11, { truncated: true }));
    f.live(ev(12));
    expect(applied).toEqual([]);
    expect(f.missingAfter).toBe(10);
    f.stored([ev(11, { ch: 0, d: "big" }), ev(12)]);
    expect(applied.map((a) => [a.seq, a.payload.d])).toEqual([[11, "big"], [12, "#12"]]);
  });

  it("skips a hole that never fills, keeping what it has", () => {
    const { f, seqs } = follower();
    f.start(0);
    f.live(ev(3));
    f.live(ev(4, { truncated: true }));
    f.live(ev(5));
    f.skipMissing();
    expect(seqs()).toEqual([3]);
    f.skipMissing();
    expect(seqs()).toEqual([3, 5]);
    expect(f.missingAfter).toBeNull();
  });
});

describe("loadStored", () => {
  /** A store holding `seqs`, served in pages of `size` after a seq, as the events API does. */
  const store = (seqs: () => number[], size: number) => {
    const asked: number[] = [];
    return { asked, fetch: async (after: number) => (asked.push(after), seqs().filter((s) => s > after).slice(0, size).map((s) => ev(s))) };
  };

  it("reads every page after the last applied event", async () => {
    const { f, seqs } = follower();
    f.start(0);
    const s = store(() => [1, 2, 3, 4, 5], 2);
    await loadStored(f, s.fetch, { pageSize: 2, stopped: () => false });
    expect(seqs()).toEqual([1, 2, 3, 4, 5]);
    expect(s.asked).toEqual([0, 2, 4]);
  });

  it("waits for a hole the store fills, and skips one it never fills", async () => {
    vi.useFakeTimers();
    try {
      const { f, seqs } = follower();
      f.start(0);
      f.live(ev(3));
      let stored = [1];
      const s = store(() => stored, 100);
      const filled = loadStored(f, s.fetch, { pageSize: 100, stopped: () => false });
      await vi.advanceTimersByTimeAsync(250);
      stored = [1, 2];
      await vi.advanceTimersByTimeAsync(200);
      await filled;
      expect(seqs()).toEqual([1, 2, 3]);

      f.live(ev(5)); // 4 never comes
      let skipped = 0;
      const gaveUp = loadStored(f, s.fetch, { pageSize: 100, stopped: () => false, onSkip: () => skipped++ });
      await vi.advanceTimersByTimeAsync(5_000);
      await gaveUp;
      expect(skipped).toBe(1);
      expect(seqs()).toEqual([1, 2, 3, 5]);
    } finally {
      vi.useRealTimers();
    }
  });
});
