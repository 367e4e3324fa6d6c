import { describe, expect, it } from "vitest";
import { SeqFollower, type SessionEventMessage } from "./seq-follower";

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
