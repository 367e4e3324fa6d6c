import type { Db } from "@/db/client";
import { lastSessionEvent, sessionEventSkeleton, sessionEventsOfKinds, sessionEventsPage } from "@/db/queries/sessions";
import { TerminalChannel, terminalStartOf, type CastEventMs, type TerminalStart } from "../asciicast";
import { planBounds, SKELETON_KINDS, type ReplayPlan, type Snapshot } from "./plan";
import { ScreenModel } from "./screen";

/**
 * Replay's reads: the channels of a session, a channel's plan (from the skeleton), its keyframes
 * (one pass through the output, on a headless terminal) and the events of one window.
 */

export interface TerminalChannelInfo extends TerminalStart {
  /** ms since the session started */
  startMs: number;
  endMs: number | null;
  exit: { code?: number; signal?: string } | null;
  exitSeq: number | null;
}

/**
 * Rows per read. Output events are up to 32 KiB and PGlite serves one query at a time for the
 * whole process, so reads stay bounded; but each query costs ~10 ms there, so the keyframe pass
 * reads bigger pages (measured on 100 MB: 64 rows/page 3.5 s, 256 rows/page 1.3 s).
 */
const WINDOW_PAGE = 64;
const PASS_PAGE = 256;
/**
 * The pass a session's end starts on its own has nobody waiting: on PGlite every read blocks
 * the gateway's thread (a 256-row page of bulk output ~100 ms, felt as keystroke lag by every
 * live session), so it reads small pages and pauses between them until a viewer asks.
 */
const BACKGROUND_PAGE = 16;
const BACKGROUND_PAUSE_MS = 60;
/** Longer labels are cut: a pasted script should not become a 1 MB tooltip. */
const MAX_LABEL = 200;

export async function terminalChannels(db: Db, sessionId: string): Promise<TerminalChannelInfo[]> {
  const channels = new Map<number, TerminalChannelInfo>();
  let after = 0;
  for (;;) {
    const page = await sessionEventsOfKinds(db, sessionId, { include: ["term.start", "term.exit"] }, after, 5000);
    for (const row of page) {
      const start = terminalStartOf(row);
      if (start && !channels.has(start.ch)) channels.set(start.ch, { ...start, startMs: row.tMs, endMs: null, exit: null, exitSeq: null });
      const ch = typeof row.payload.ch === "number" ? channels.get(row.payload.ch) : undefined;
      if (row.kind === "term.exit" && ch && ch.exitSeq === null && row.seq > ch.seq) {
        ch.endMs = row.tMs;
        ch.exitSeq = row.seq;
        ch.exit = { ...(typeof row.payload.code === "number" ? { code: row.payload.code } : {}), ...(typeof row.payload.signal === "string" ? { signal: row.payload.signal } : {}) };
      }
    }
    if (page.length < 5000) break;
    after = page[page.length - 1].seq;
  }
  return [...channels.values()].sort((a, b) => a.seq - b.seq);
}

/** The plan of channel `ch` (default: the first), or null when the session has no such terminal channel. */
export async function planChannel(db: Db, sessionId: string, ch?: number): Promise<{ plan: ReplayPlan; lastSeq: number } | null> {
  const channels = await terminalChannels(db, sessionId);
  const info = ch === undefined ? channels[0] : channels.find((c) => c.ch === ch);
  if (!info) return null;
  const last = await lastSessionEvent(db, sessionId);
  const lastSeq = last?.seq ?? info.seq;
  const endMs = info.endMs ?? last?.tMs ?? info.startMs;
  const skeleton = [];
  let after = info.seq;
  for (;;) {
    const page = await sessionEventSkeleton(db, sessionId, SKELETON_KINDS, after, 50_000);
    skeleton.push(...page);
    if (page.length < 50_000 || (info.exitSeq !== null && page[page.length - 1].seq > info.exitSeq)) break;
    after = page[page.length - 1].seq;
  }
  const start: TerminalStart = { ch: info.ch, mode: info.mode, cols: info.cols, rows: info.rows, term: info.term, tMs: info.tMs, seq: info.seq, ...(info.command !== undefined ? { command: info.command } : {}) };
  const { bounds, gaps, durationMs } = planBounds(start, skeleton, { durationMs: Math.max(0, endMs - info.startMs), endSeq: info.exitSeq });
  const markers = await channelMarkers(db, sessionId, start, durationMs);
  return { plan: { ch: info.ch, start, durationMs, endSeq: info.exitSeq, bounds, gaps, markers }, lastSeq };
}

async function channelMarkers(db: Db, sessionId: string, start: TerminalStart, durationMs: number): Promise<[number, string][]> {
  const channel = new TerminalChannel(start, { markers: true });
  const markers: [number, string][] = [];
  let after = start.seq;
  // Bounded: markers are for finding one's way; 20k of them is already more than a person reads.
  for (let pages = 0; pages < 4 && !channel.ended; pages++) {
    const page = await sessionEventsOfKinds(db, sessionId, { exclude: SKELETON_KINDS }, after, 5000);
    for (const row of page) {
      for (const [t, code, label] of channel.convert(row)) {
        if (code === "m") markers.push([Math.min(t, durationMs), label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL)}…` : label]);
      }
    }
    if (page.length < 5000) break;
    after = page[page.length - 1].seq;
  }
  return markers;
}

/** The channel's rows with seq in (afterSeq, untilSeq], page by page. */
async function* channelPages(db: Db, sessionId: string, afterSeq: number, untilSeq: number | null, size: number | (() => number)): AsyncGenerator<{ seq: number; tMs: number; kind: string; payload: Record<string, unknown> }[]> {
  let after = afterSeq;
  for (;;) {
    const pageSize = typeof size === "number" ? size : size();
    const page = await sessionEventsPage(db, sessionId, after, pageSize);
    const within = untilSeq === null ? page : page.filter((r) => r.seq <= untilSeq);
    if (within.length) yield within;
    if (page.length < pageSize || within.length < page.length) return;
    after = page[page.length - 1].seq;
  }
}

/**
 * One pass through the channel's output: the screen after bounds[k].afterSeq is keyframe k.
 * Reports each keyframe as soon as it exists, so a seek waits only for the pass to reach it.
 */
export async function buildKeyframes(
  db: Db,
  sessionId: string,
  plan: ReplayPlan,
  onSnapshot: (k: number, s: Snapshot) => void,
  isCancelled: () => boolean = () => false,
  /** true while nobody waits for this pass (see BACKGROUND_PAGE); read before every page */
  inBackground: () => boolean = () => false,
): Promise<void> {
  onSnapshot(0, { cols: plan.start.cols, rows: plan.start.rows, init: "" });
  const { bounds } = plan;
  if (bounds.length < 2) return;
  const screen = new ScreenModel(plan.start.cols, plan.start.rows);
  const channel = new TerminalChannel(plan.start);
  let k = 1;
  try {
    for await (const page of channelPages(db, sessionId, plan.start.seq, plan.endSeq, () => (inBackground() ? BACKGROUND_PAGE : PASS_PAGE))) {
      if (isCancelled()) return;
      if (inBackground()) await new Promise((r) => setTimeout(r, BACKGROUND_PAUSE_MS));
      for (const row of page) {
        while (k < bounds.length && row.seq > bounds[k].afterSeq) onSnapshot(k++, await screen.snapshot());
        if (k >= bounds.length) return;
        for (const [, code, data] of channel.convert(row)) {
          if (code === "o") await screen.write(data);
          else if (code === "r") {
            const [cols, rows] = data.split("x").map(Number);
            await screen.resize(cols, rows);
          }
        }
      }
    }
    while (k < bounds.length) onSnapshot(k++, await screen.snapshot());
  } finally {
    screen.dispose();
  }
}

/** Cast events (ms since term.start) of windows [k0, kEnd). */
export async function readWindow(db: Db, sessionId: string, plan: ReplayPlan, k0: number, kEnd: number): Promise<CastEventMs[]> {
  const until = kEnd < plan.bounds.length ? plan.bounds[kEnd].afterSeq : plan.endSeq;
  const channel = new TerminalChannel(plan.start);
  const events: CastEventMs[] = [];
  for await (const page of channelPages(db, sessionId, plan.bounds[k0].afterSeq, until, WINDOW_PAGE)) {
    for (const row of page) events.push(...channel.convert(row));
  }
  return events;
}
