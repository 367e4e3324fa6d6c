import { promisify } from "node:util";
import { deflateRaw, inflateRaw } from "node:zlib";
import type { Db } from "@/db/client";
import { storedKeyframes } from "@/db/queries/replay-keyframes";
import { lastSessionEvent } from "@/db/queries/sessions";
import { GatehouseError } from "@/lib/gateway/core/types";
import { keepKeyframes } from "@/lib/services/replay/keep-keyframes";
import { buildKeyframes, planChannel, terminalChannels } from "./build";
import type { ReplayPlan, Snapshot } from "./plan";
import { loggable } from "@/lib/util/loggable";

/**
 * Replay plans and keyframes, computed once per recorded channel and kept: in memory (LRU by
 * size) and, once a session has ended, in the database (`replay_keyframes`, deflated JSON), so
 * that every process sharing the database replays it at full speed from the first seek, not only
 * the one that prepared it. A cache: it can always be rebuilt from `session_events`.
 *
 * Keyframes are built by one pass per channel, started by the first replay request or by
 * `indexEndedSession` when a session ends; a window request waits only until that pass has
 * produced its keyframe.
 */

const FORMAT = 1;
const MAX_BYTES = 96 * 1024 * 1024;
const MAX_ENTRIES = 64;
/** CPU-bound passes run on the gateway's event loop (in time slices): few at once. */
const MAX_BUILDS = 2;

interface Entry {
  key: string;
  sessionId: string;
  ch: number;
  plan: ReplayPlan;
  lastSeq: number;
  live: boolean;
  snapshots: (Snapshot | undefined)[];
  complete: boolean;
  error: unknown;
  building: Promise<void> | null;
  cancelled: boolean;
  listeners: Set<() => void>;
  bytes: number;
  /** the pass runs at background pace until someone asks for this replay */
  background: boolean;
}

interface Store {
  entries: Map<string, Entry>;
  bytes: number;
  running: number;
  queue: (() => void)[];
  planning: Map<string, Promise<Entry | null>>;
}

// Next bundles its own copy of lib/: one store per process, shared through globalThis.
const store: Store = ((globalThis as Record<string, unknown>).__gatehouseReplayStore ??= { entries: new Map(), bytes: 0, running: 0, queue: [], planning: new Map() }) as Store;

const deflate = promisify(deflateRaw);
const inflate = promisify(inflateRaw);

function remember(entry: Entry) {
  const old = store.entries.get(entry.key);
  if (old) {
    store.bytes -= old.bytes;
    store.entries.delete(entry.key);
    if (old !== entry) old.cancelled = true;
  }
  store.entries.set(entry.key, entry);
  store.bytes += entry.bytes;
  for (const [key, e] of store.entries) {
    if (store.bytes <= MAX_BYTES && store.entries.size <= MAX_ENTRIES) break;
    if (e === entry) continue;
    // An evicted pass still finishes and lands in the database; only the memory copy goes.
    store.entries.delete(key);
    store.bytes -= e.bytes;
  }
}

function newEntry(sessionId: string, plan: ReplayPlan, lastSeq: number, live: boolean): Entry {
  return { key: `${sessionId}:${plan.ch}`, sessionId, ch: plan.ch, plan, lastSeq, live, snapshots: new Array(plan.bounds.length), complete: false, error: null, building: null, cancelled: false, listeners: new Set(), bytes: 64 * (plan.bounds.length + plan.gaps.length + plan.markers.length), background: true };
}

async function readCached(db: Db, sessionId: string, ch: number): Promise<Entry | null> {
  try {
    const row = await storedKeyframes(db, sessionId, ch);
    if (!row || row.format !== FORMAT) return null;
    const data = JSON.parse((await inflate(Buffer.from(row.data, "base64"))).toString("utf8"));
    if (data.plan?.ch !== ch || !Array.isArray(data.snapshots) || data.snapshots.length !== data.plan.bounds.length) return null;
    const entry = newEntry(sessionId, data.plan, data.lastSeq, false);
    entry.snapshots = data.snapshots;
    entry.complete = true;
    entry.bytes += (data.snapshots as Snapshot[]).reduce((n, s) => n + s.init.length, 0);
    return entry;
  } catch {
    return null;
  }
}

/** Compressed off the event loop (zlib's thread pool); consecutive equal keyframes are one string in memory but not in JSON, which deflate folds back. */
async function writeCached(db: Db, entry: Entry): Promise<void> {
  try {
    // Planned before events that arrived since (a recovered spool): a newer plan's keyframes
    // are, or will be, the ones to keep; these would only send the next reader to rebuild.
    if ((await lastSessionEvent(db, entry.sessionId))?.seq !== entry.lastSeq) return;
    const json = JSON.stringify({ lastSeq: entry.lastSeq, plan: entry.plan, snapshots: entry.snapshots });
    await keepKeyframes(db, entry.sessionId, entry.ch, FORMAT, (await deflate(json)).toString("base64"));
  } catch (err) {
    console.error(`[replay] could not keep keyframes of ${entry.key}:`, loggable(err));
  }
}

/**
 * The replay entry of a session's channel (default: its first), re-planned whenever events
 * arrived after it was planned: a live session's as it grows, and an ended one's when a process
 * killed mid-session stores its spooled output later (on a shared PostgreSQL another process
 * may have ended the session and prepared it first). The check is one indexed read.
 */
export async function replayEntry(db: Db, session: { id: string; status: string }, ch: number | undefined): Promise<Entry | null> {
  if (ch === undefined) {
    ch = (await terminalChannels(db, session.id))[0]?.ch;
    if (ch === undefined) return null;
  }
  const live = session.status === "live";
  const known = store.entries.get(`${session.id}:${ch}`);
  const lastSeq = (await lastSessionEvent(db, session.id))?.seq ?? 0;
  if (known && known.lastSeq === lastSeq && known.live === live) return touch(known);
  if (!live) {
    const cached = await readCached(db, session.id, ch);
    if (cached && cached.lastSeq === lastSeq) {
      remember(cached);
      return cached;
    }
  }
  // Concurrent first requests (the index and the first windows) share one planning pass.
  const planKey = `${session.id}:${ch}:${live}`;
  let planning = store.planning.get(planKey);
  if (!planning) {
    planning = planChannel(db, session.id, ch)
      .then((planned) => {
        if (!planned) return null;
        const entry = newEntry(session.id, planned.plan, planned.lastSeq, live);
        remember(entry);
        return entry;
      })
      .finally(() => store.planning.delete(planKey));
    store.planning.set(planKey, planning);
  }
  return planning;
}

function touch(entry: Entry): Entry {
  store.entries.delete(entry.key);
  store.entries.set(entry.key, entry);
  return entry;
}

/** Starts the keyframe pass of an entry unless it ran or is running. */
export function startBuild(db: Db, entry: Entry, opts: { background?: boolean } = {}): Promise<void> {
  if (!opts.background) entry.background = false;
  if (entry.complete) return Promise.resolve();
  entry.building ??= (async () => {
    await acquire();
    try {
      await buildKeyframes(
        db,
        entry.sessionId,
        entry.plan,
        (k, snap) => {
          entry.snapshots[k] = snap;
          // Consecutive keyframes with no output between them are the same string, counted once.
          if (k === 0 || entry.snapshots[k - 1]?.init !== snap.init) {
            entry.bytes += snap.init.length;
            store.bytes += store.entries.get(entry.key) === entry ? snap.init.length : 0;
          } else entry.snapshots[k] = entry.snapshots[k - 1];
          for (const fn of entry.listeners) fn();
        },
        () => entry.cancelled,
        () => entry.background,
      );
      if (entry.cancelled) return;
      entry.complete = entry.snapshots.every(Boolean);
      if (!entry.complete) throw new Error("keyframe pass ended early");
      if (!entry.live) await writeCached(db, entry);
    } catch (err) {
      entry.error = err;
      console.error(`[replay] keyframes of ${entry.key} failed:`, loggable(err));
    } finally {
      entry.building = null;
      release();
      for (const fn of entry.listeners) fn();
    }
  })();
  return entry.building;
}

/** Keyframe k of the entry, waiting for the pass to reach it. */
export async function snapshotAt(db: Db, entry: Entry, k: number, timeoutMs = 120_000): Promise<Snapshot> {
  if (entry.snapshots[k]) return entry.snapshots[k]!;
  if (k === 0) return { cols: entry.plan.start.cols, rows: entry.plan.start.rows, init: "" };
  void startBuild(db, entry);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new GatehouseError("UNAVAILABLE", "the replay keyframes are still being prepared, try again shortly")), timeoutMs);
    const check = () => {
      if (entry.snapshots[k]) done(null, entry.snapshots[k]);
      else if (!entry.building) done(new GatehouseError("UNAVAILABLE", "the replay keyframes could not be prepared"));
    };
    const done = (err: Error | null, snap?: Snapshot) => {
      clearTimeout(timer);
      entry.listeners.delete(check);
      if (err) reject(err);
      else resolve(snap!);
    };
    entry.listeners.add(check);
    check();
  });
}

function acquire(): Promise<void> {
  if (store.running < MAX_BUILDS) {
    store.running++;
    return Promise.resolve();
  }
  return new Promise((resolve) => store.queue.push(() => resolve()));
}

function release() {
  const next = store.queue.shift();
  if (next) next();
  else store.running--;
}

/** For tests and the benchmark: forget what is in memory (the data-dir cache stays). */
export function clearReplayMemory() {
  for (const e of store.entries.values()) e.cancelled = true;
  store.entries.clear();
  store.bytes = 0;
}

export type ReplayEntry = Entry;
