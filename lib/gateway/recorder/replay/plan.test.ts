import { describe, expect, it } from "vitest";
import type { TerminalStart } from "../asciicast";
import { IdleCompressor, parseIdleLimit } from "./idle";
import { planBounds, playerIndex, playerSegment, windowBounds, type ReplayPlan, type SkeletonRow } from "./plan";

const start: TerminalStart = { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm", tMs: 1000, seq: 2 };

function skeleton(list: [number, string][]): SkeletonRow[] {
  return list.map(([tMs, kind], i) => ({ seq: i + 3, tMs, kind }));
}

describe("IdleCompressor", () => {
  const gaps: [number, number][] = [
    [10_000, 8_000], // nothing between 2 s and 10 s
    [13_000, 1_000],
    [30_000, 15_000], // 15 s → 30 s
  ];
  it("cuts every pause longer than the limit to the limit", () => {
    const c = new IdleCompressor(gaps, 2_000);
    expect(c.map(0)).toBe(0);
    expect(c.map(2_000)).toBe(2_000);
    expect(c.map(3_000)).toBe(3_000); // inside the pause, before the limit
    expect(c.map(9_000)).toBe(4_000); // inside the pause, clamped at start + limit
    expect(c.map(10_000)).toBe(4_000);
    expect(c.map(13_000)).toBe(7_000); // a 1 s pause stays
    expect(c.map(30_000)).toBe(11_000); // 15 s pause cut to 2 s
    expect(c.map(31_000)).toBe(12_000);
  });
  it("maps player time back to recording time", () => {
    const c = new IdleCompressor(gaps, 2_000);
    for (const t of [0, 2_000, 3_000, 10_000, 12_500, 15_000, 16_000, 30_000, 31_000, 45_000]) expect(c.map(c.unmap(c.map(t)))).toBe(c.map(t));
    expect(c.unmap(4_000)).toBe(4_000); // the end of the kept part of the first pause
    expect(c.unmap(7_000)).toBe(13_000);
    expect(c.unmap(12_000)).toBe(31_000);
    expect(new IdleCompressor(gaps, null).unmap(777)).toBe(777);
  });

  it("is the identity when off, and monotonic when on", () => {
    expect(new IdleCompressor(gaps, null).map(12_345)).toBe(12_345);
    const c = new IdleCompressor(gaps, 500);
    let last = -1;
    for (let t = 0; t < 40_000; t += 37) {
      expect(c.map(t)).toBeGreaterThanOrEqual(last);
      last = c.map(t);
    }
    expect(c.effectiveGaps).toEqual(gaps);
    expect(new IdleCompressor(gaps, 5_000).effectiveGaps).toEqual([gaps[0], gaps[2]]);
  });
  it("parses the limit", () => {
    expect(parseIdleLimit(null)).toBeNull();
    expect(parseIdleLimit("off")).toBeNull();
    expect(parseIdleLimit("2")).toBe(2000);
    expect(parseIdleLimit("0.1")).toBe(500);
    expect(parseIdleLimit("nope")).toBeNull();
  });
});

describe("planBounds", () => {
  it("cuts windows by time, and by output events but not too often, only where time moved on, and records pauses", () => {
    const rows = skeleton([
      [1100, "term.o"],
      [1200, "term.i"],
      [12_000, "term.o"], // ≥ 10 s after the start: a bound; 10.8 s pause before it
      [12_000, "term.o"],
      [12_000, "term.o"], // same millisecond: never a bound
      [12_001, "term.o"], // 3 outputs since the bound, but only 1 ms later: not yet
      [14_000, "term.r"],
      [14_001, "term.o"], // ≥ 3 outputs and ≥ 2 s: a bound
      [14_002, "term.o"],
    ]);
    const p = planBounds(start, rows, { durationMs: 20_000, endSeq: null }, { segmentMs: 10_000, segmentEvents: 3, minSegmentMs: 2_000 });
    expect(p.bounds).toEqual([
      { t: 0, afterSeq: 2 },
      { t: 11_000, afterSeq: 4 },
      { t: 13_001, afterSeq: 9 },
    ]);
    expect(p.gaps).toEqual([
      [11_000, 10_800],
      [13_000, 1_999],
      [20_000, 6_998],
    ]);
    expect(p.durationMs).toBe(20_000);
  });
  it("ignores what comes after the channel's exit, and never starts a window at the end", () => {
    const rows = skeleton([
      [1100, "term.o"],
      [11_500, "term.o"],
      [30_000, "term.o"],
    ]);
    const p = planBounds(start, rows, { durationMs: 10_500, endSeq: 4 });
    expect(p.bounds).toEqual([{ t: 0, afterSeq: 2 }]);
    expect(p.durationMs).toBe(10_500);
  });
});

function plan(): ReplayPlan {
  return {
    ch: 0,
    start,
    durationMs: 40_000,
    endSeq: null,
    bounds: [
      { t: 0, afterSeq: 2 },
      { t: 10_000, afterSeq: 10 },
      { t: 25_000, afterSeq: 20 },
    ],
    gaps: [[25_000, 14_000]],
    markers: [
      [500, "ls"],
      [26_000, "make"],
    ],
  };
}

describe("player index and windows", () => {
  it("describes the windows in the player's segmented format, with idle compression applied", () => {
    const url = (from: number, span: number) => `w?from=${from}&span=${span}`;
    const plain = playerIndex(plan(), null, url);
    expect(plain).toMatchObject({ version: 1, duration: 40, term: { cols: 80, rows: 24 }, markers: [[0.5, "ls"], [26, "make"]] });
    expect(plain.segments).toEqual([
      { start: 0, url: "w?from=0&span=10000" },
      { start: 10, url: "w?from=10000&span=15000" },
      { start: 25, url: "w?from=25000&span=15001" },
    ]);
    const idle = playerIndex(plan(), 2_000, url);
    expect(idle.duration).toBe(28);
    expect(idle.segments.map((s) => s.start)).toEqual([0, 10, 13]);
    expect(idle.markers).toEqual([[0.5, "ls"], [14, "make"]]);
    expect(idle.gatehouse).toMatchObject({ idleMs: 2000, gaps: [[25_000, 14_000]], startMs: 1000 });
  });

  it("finds the windows covering a time range", () => {
    expect(windowBounds(plan(), 0, 1)).toEqual({ k0: 0, kEnd: 1 });
    expect(windowBounds(plan(), 12_000, 13_000)).toEqual({ k0: 1, kEnd: 2 });
    expect(windowBounds(plan(), 10_000, 25_000)).toEqual({ k0: 1, kEnd: 2 });
    expect(windowBounds(plan(), 5_000, 30_000)).toEqual({ k0: 0, kEnd: 3 });
  });

  it("keeps every event inside its window, as the player requires", () => {
    const snap = { cols: 80, rows: 24, init: "" };
    const seg = playerSegment(plan(), null, 1, 2, snap, [
      [9_000, "o", "early (clock skew)"],
      [12_000, "o", "a"],
      [12_000, "m", "marker"],
      [26_000, "o", "late"],
    ]);
    expect(seg.events).toEqual([
      [10, "o", ""],
      [10, "o", "early (clock skew)"],
      [12, "o", "a"],
      [24.999, "o", "late"],
    ]);
    const last = playerSegment(plan(), 2_000, 2, 3, snap, [[26_000, "o", "x"]]);
    expect(last.events).toEqual([
      [13, "o", ""],
      [14, "o", "x"],
      [28, "o", ""],
    ]);
  });
});
