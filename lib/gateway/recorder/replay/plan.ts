import type { CastEventMs, TerminalStart } from "../asciicast";
import { clampScreenSize, CountClamp } from "@/lib/terminal/count-clamp";
import { IdleCompressor, MIN_IDLE_MS, type Gap } from "./idle";

/**
 * How a terminal channel is cut into replay windows, planned from the events' skeleton (seq,
 * time, kind — never the output itself), so that a one-hour recording can be planned in one
 * cheap query and its first window shown before any keyframe exists.
 *
 * A bound is where a window starts: at a `term.o` event, every SEGMENT_MS of recording, or
 * earlier after SEGMENT_EVENTS output events (the recorder coalesces output into events of at
 * most 32 KiB, so a window holds at most ~1.5 MiB) but not more often than MIN_SEGMENT_MS (output
 * trickling in small events must not turn into thousands of keyframes). Window k holds the channel's events with
 * seq in (bounds[k].afterSeq, bounds[k+1].afterSeq]; its keyframe is the screen after every event
 * with seq ≤ bounds[k].afterSeq. Defining both by seq (not by time) keeps them exact even when
 * several events share a millisecond or the recorder's clock stepped back.
 *
 * The output is asciinema-player's segmented recording (index version 1): the player fetches
 * the window containing a seek target plus the next one, never the whole cast.
 */
export const SEGMENT_MS = 10_000;
export const SEGMENT_EVENTS = 48;
export const MIN_SEGMENT_MS = 2_000;

export interface SkeletonRow {
  seq: number;
  tMs: number;
  kind: string;
}

export interface ReplayBound {
  /** ms since the channel's term.start */
  t: number;
  afterSeq: number;
}

export interface ReplayPlan {
  ch: number;
  start: TerminalStart;
  /** ms since term.start: the channel's term.exit, or the session's last event */
  durationMs: number;
  /** seq of the channel's term.exit (nothing after it belongs to the channel), if known */
  endSeq: number | null;
  bounds: ReplayBound[];
  gaps: Gap[];
  /** `[ms, label]`: commands and held/denied requests */
  markers: [number, string][];
}

export interface Snapshot {
  cols: number;
  rows: number;
  /** written into a blank terminal of that size, reproduces the screen */
  init: string;
}

const TERMINAL_KINDS = ["term.o", "term.i", "term.r"];
export const SKELETON_KINDS = TERMINAL_KINDS;

export function planBounds(start: TerminalStart, skeleton: Iterable<SkeletonRow>, end: { durationMs: number; endSeq: number | null }, opts = { segmentMs: SEGMENT_MS, segmentEvents: SEGMENT_EVENTS, minSegmentMs: MIN_SEGMENT_MS }): Pick<ReplayPlan, "bounds" | "gaps" | "durationMs"> {
  const bounds: ReplayBound[] = [{ t: 0, afterSeq: start.seq }];
  const gaps: Gap[] = [];
  let t = 0;
  let prevT = 0;
  let outputs = 0;
  for (const row of skeleton) {
    if (row.seq <= start.seq || (end.endSeq !== null && row.seq > end.endSeq)) continue;
    const prev = t;
    t = Math.max(t, row.tMs - start.tMs);
    if (t - prevT >= MIN_IDLE_MS) gaps.push([t, t - prevT]);
    prevT = t;
    if (row.kind !== "term.o") continue;
    const last = bounds[bounds.length - 1];
    // Only where time moved on since the previous terminal event, so no earlier event shares the bound's time.
    if (t > prev && t > last.t && (t - last.t >= opts.segmentMs || (outputs >= opts.segmentEvents && t - last.t >= opts.minSegmentMs))) {
      bounds.push({ t, afterSeq: row.seq - 1 });
      outputs = 0;
    }
    outputs++;
  }
  const durationMs = Math.max(end.durationMs, t);
  if (durationMs - prevT >= MIN_IDLE_MS) gaps.push([durationMs, durationMs - prevT]);
  // A window must start before the end (the player's rule).
  while (bounds.length > 1 && bounds[bounds.length - 1].t >= durationMs) bounds.pop();
  return { bounds, gaps, durationMs };
}

/** The windows [k0, kEnd) that cover recording time [from, to): from the last bound ≤ from to the first bound ≥ to. */
export function windowBounds(plan: Pick<ReplayPlan, "bounds">, from: number, to: number): { k0: number; kEnd: number } {
  const b = plan.bounds;
  let k0 = 0;
  while (k0 + 1 < b.length && b[k0 + 1].t <= from) k0++;
  let kEnd = k0 + 1;
  while (kEnd < b.length && b[kEnd].t < to) kEnd++;
  return { k0, kEnd };
}

const sec = (ms: number) => ms / 1000;

export interface PlayerIndex {
  version: 1;
  duration: number;
  term: { cols: number; rows: number };
  segments: { start: number; url: string }[];
  markers: [number, string][];
  /** not read by the player: what the console needs to put timeline entries on the player's clock */
  gatehouse: { ch: number; startMs: number; durationMs: number; idleMs: number | null; gaps: Gap[] };
}

export function playerIndex(plan: ReplayPlan, idleMs: number | null, segmentUrl: (from: number, span: number) => string): PlayerIndex {
  const idle = new IdleCompressor(plan.gaps, idleMs);
  const duration = idle.map(plan.durationMs);
  const segments: PlayerIndex["segments"] = [];
  const kept = plan.bounds.filter((b, k) => k === 0 || (idle.map(b.t) < duration && idle.map(b.t) > idle.map(plan.bounds[k - 1].t)));
  kept.forEach((b, k) => {
    const next = k + 1 < kept.length ? kept[k + 1].t : plan.durationMs + 1;
    segments.push({ start: sec(idle.map(b.t)), url: segmentUrl(b.t, next - b.t) });
  });
  let lastMarker = 0;
  const markers = plan.markers.map(([t, label]): [number, string] => {
    lastMarker = Math.max(lastMarker, Math.min(idle.map(Math.max(0, t)), duration));
    return [sec(lastMarker), label];
  });
  return {
    version: 1,
    duration: sec(duration),
    // The player's terminal is allocated at this size: the recorded one is the client's choice.
    term: clampScreenSize(plan.start.cols, plan.start.rows),
    segments,
    markers,
    gatehouse: { ch: plan.ch, startMs: plan.start.tMs, durationMs: plan.durationMs, idleMs, gaps: idle.effectiveGaps },
  };
}

export interface PlayerSegment {
  snapshot: Snapshot;
  events: [number, string, string][];
  /** not read by the player: the window actually served (seconds, player clock) */
  start: number;
  end: number;
}

/**
 * One window in the player's format. Times go through idle compression and are then clamped into
 * the window, because the player rejects a whole recording over one out-of-range event.
 */
export function playerSegment(plan: ReplayPlan, idleMs: number | null, k0: number, kEnd: number, snapshot: Snapshot, events: readonly CastEventMs[]): PlayerSegment {
  const idle = new IdleCompressor(plan.gaps, idleMs);
  const duration = idle.map(plan.durationMs);
  const start = idle.map(plan.bounds[k0].t);
  const isLast = kEnd >= plan.bounds.length;
  const end = isLast ? duration : idle.map(plan.bounds[kEnd].t);
  const max = isLast ? duration : Math.max(start, end - 1);
  const out: [number, string, string][] = [[sec(start), "o", ""]];
  let last = start;
  // What the remote host printed reaches the player's emulator too: sizes and counts bounded
  // as on the server's screen (count-clamp.ts), from the keyframe's size on.
  let size = clampScreenSize(snapshot.cols, snapshot.rows);
  const clamp = new CountClamp(() => size);
  for (const [t, code, data] of events) {
    if (code === "m") continue; // markers travel in the index
    last = Math.min(Math.max(idle.map(t), last), max);
    if (code === "r") {
      const [cols, rows] = data.split("x").map(Number);
      size = clampScreenSize(cols, rows);
      out.push([sec(last), code, `${size.cols}x${size.rows}`]);
    } else out.push([sec(last), code, code === "o" ? clamp.text(data) : data]);
  }
  if (isLast && last !== duration) out.push([sec(duration), "o", ""]);
  return { snapshot, events: out, start: sec(start), end: sec(end) };
}
