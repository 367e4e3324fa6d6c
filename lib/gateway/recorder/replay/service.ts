import type { Db } from "@/db/client";
import { eventsOfKindAt } from "@/db/queries/session-terminal";
import { getSession, sessionEventSkeleton, sessionEventsOfKinds } from "@/db/queries/sessions";
import { Topics, type EventBus } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { readWindow, terminalChannels } from "./build";
import { playerIndex, playerSegment, SKELETON_KINDS, windowBounds, type PlayerIndex, type PlayerSegment } from "./plan";
import { replayEntry, snapshotAt, startBuild } from "./store";
import { loggable } from "@/lib/util/loggable";

/**
 * What the replay routes serve: a channel's segmented index (asciinema-player fetches it, then
 * the window containing the seek target and the next one), one window (keyframe + events), and
 * the session's terminal timeline. Authorization happens in the routes (readableSession).
 */

/** A window request may span at most this many planned windows (bounded work per request). */
const MAX_WINDOWS_PER_REQUEST = 16;
const TIMELINE_LIMIT = 5000;
const FIRST_WINDOW_GRACE_MS = 300;
const MAX_TIMELINE_STRING = 2000;

interface SessionRef {
  id: string;
  status: string;
}

async function entryOf(db: Db, session: SessionRef, ch: number | undefined) {
  const entry = await replayEntry(db, session, ch);
  if (!entry) throw new GatehouseError("NOT_FOUND", ch === undefined ? "this session has no terminal recording" : `this session has no terminal channel ${ch}`);
  return entry;
}

export async function replayIndex(db: Db, session: SessionRef, ch: number | undefined, idleMs: number | null): Promise<PlayerIndex> {
  const entry = await entryOf(db, session, ch);
  // Every later seek needs keyframes: start the pass in the background, just after the player's
  // first window (which needs none) has been served. A seek that needs one starts it at once.
  if (!entry.complete && !entry.building) setTimeout(() => void startBuild(db, entry), FIRST_WINDOW_GRACE_MS).unref?.();
  const url = (from: number, span: number) => `replay?${new URLSearchParams({ ch: String(entry.ch), from: String(from), span: String(span), ...(idleMs !== null ? { idle: String(idleMs / 1000) } : {}) })}`;
  return playerIndex(entry.plan, idleMs, url);
}

/** The window(s) covering recording time [from, from + span) ms, starting at the keyframe at or before `from`. */
export async function replayWindow(db: Db, session: SessionRef, ch: number | undefined, from: number, span: number, idleMs: number | null): Promise<PlayerSegment> {
  const entry = await entryOf(db, session, ch);
  const { k0, kEnd } = windowBounds(entry.plan, from, from + span);
  const end = Math.min(kEnd, k0 + MAX_WINDOWS_PER_REQUEST);
  const [snapshot, events] = await Promise.all([snapshotAt(db, entry, k0), readWindow(db, session.id, entry.plan, k0, end)]);
  return playerSegment(entry.plan, idleMs, k0, end, snapshot, events);
}

function clip(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return value.length > MAX_TIMELINE_STRING ? `${value.slice(0, MAX_TIMELINE_STRING)}…` : value;
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.slice(0, 100).map((v) => clip(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clip(v, depth + 1)]));
}

/** A command's moment on screen: the echo of a line typed ahead comes after its Enter, within this. */
const ECHO_WITHIN_MS = 1000;

/**
 * Channels and every event that is not terminal I/O (commands, requests, verdicts, holds, sftp,
 * forwards). A command carries `seekMs`: when its line was on screen. It is recorded at the
 * Enter. A line typed key by key was echoed before that; a line that arrived whole with its
 * Enter (pasted, or sent by a program) is echoed only after it, so seeking to the Enter would
 * show the prompt without it: its `seekMs` is the first output after it (within ECHO_WITHIN_MS).
 */
export async function terminalTimeline(db: Db, sessionId: string) {
  const [channels, events] = await Promise.all([terminalChannels(db, sessionId), sessionEventsOfKinds(db, sessionId, { exclude: SKELETON_KINDS }, 0, TIMELINE_LIMIT)]);
  const commands = events.filter((e) => e.kind === "term.cmd");
  // The terminal recorder records an input event, then the command(s) it ended.
  const cmdSeqs = new Set(commands.map((c) => c.seq));
  const inputSeqOf = (seq: number) => {
    while (cmdSeqs.has(seq - 1)) seq--;
    return seq - 1;
  };
  const inputs = new Map((await eventsOfKindAt(db, sessionId, "term.i", commands.map((c) => inputSeqOf(c.seq)))).map((i) => [i.seq, i.payload]));
  const typedAhead = commands.filter((c) => {
    const input = inputs.get(inputSeqOf(c.seq));
    return typeof input?.d === "string" && typeof c.payload.text === "string" && input.d.includes(c.payload.text);
  });
  const outputs = typedAhead.length ? await sessionEventSkeleton(db, sessionId, ["term.o"], typedAhead[0].seq) : [];
  const seekMs = new Map<number, number>();
  let o = 0;
  for (const c of typedAhead) {
    while (o < outputs.length && outputs[o].seq < c.seq) o++;
    if (outputs[o] && outputs[o].tMs - c.tMs <= ECHO_WITHIN_MS) seekMs.set(c.seq, outputs[o].tMs);
  }
  return {
    channels: channels.map((c) => ({ ch: c.ch, mode: c.mode, cols: c.cols, rows: c.rows, term: c.term, command: c.command ?? null, startMs: c.startMs, endMs: c.endMs, exit: c.exit })),
    events: events.map((e) => ({ ...e, payload: clip(e.payload) as Record<string, unknown>, ...(seekMs.has(e.seq) ? { seekMs: seekMs.get(e.seq) } : {}) })),
    truncated: events.length === TIMELINE_LIMIT,
  };
}

/**
 * Prepares keyframes when a terminal session this process served ends, so that replaying it
 * later is fast from the first seek. Other processes' sessions are theirs to index.
 */
export function startReplayIndexer(db: Db, bus: EventBus): () => void {
  return bus.subscribe<{ id: string }>(Topics.sessionEnded, (data, msg) => {
    if (msg.origin !== bus.nodeId || typeof data?.id !== "string") return;
    void (async () => {
      const session = await getSession(db, data.id);
      if (!session || session.protocol === "postgres" || session.protocol === "mysql") return;
      for (const c of await terminalChannels(db, session.id)) {
        const entry = await replayEntry(db, session, c.ch);
        if (!entry) continue;
        await startBuild(db, entry, { background: true });
        if (entry.complete) console.log(`[replay] session ${session.id} channel ${c.ch} prepared for replay`);
      }
    })().catch((err) => console.error(`[replay] indexing session ${data.id} failed:`, loggable(err)));
  });
}
