import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type DbHandle } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { EventBus, Topics } from "@/lib/events/bus";
import { appendSessionEvents } from "@/lib/services/sessions/append-events";
import { assertPlayerIndex, assertPlayerSegment } from "@/tests/support/segmented-recording";
import { RecordingScript, seedTerminalSession, syntheticShellRecording } from "@/tests/support/terminal-recording";
import { encodeAsciicast } from "../asciicast";
import { IdleCompressor } from "./idle";
import type { PlayerIndex, PlayerSegment } from "./plan";
import { ScreenModel } from "./screen";
import { replayIndex, replayWindow, startReplayIndexer, terminalTimeline } from "./service";
import { clearReplayMemory, replayEntry } from "./store";
import { storedKeyframes } from "@/db/queries/replay-keyframes";

let handle: DbHandle;
let dataDir: string;
const ended = (id: string) => ({ id, status: "ended" });

beforeAll(async () => {
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-replay-"));
  process.env.GATEHOUSE_DATA_DIR = dataDir;
  handle = await openPglite(null);
});
afterAll(async () => {
  await handle.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function castEvents(id: string, ch?: number): Promise<[number, string, string][]> {
  async function* pages() {
    let after = 0;
    for (;;) {
      const page = await sessionEventsPage(handle.db, id, after, 500);
      if (page.length) yield page;
      if (page.length < 500) return;
      after = page[page.length - 1].seq;
    }
  }
  let text = "";
  for await (const chunk of encodeAsciicast(pages(), { userEmail: "u", connectionName: "c", startedAt: new Date() }, { ch })) text += chunk;
  return text.trim().split("\n").slice(1).map((l) => JSON.parse(l));
}

async function windows(id: string, index: PlayerIndex, idle?: number): Promise<PlayerSegment[]> {
  const out: PlayerSegment[] = [];
  for (const [k, s] of index.segments.entries()) {
    const q = new URLSearchParams(s.url.split("?")[1]);
    const seg = await replayWindow(handle.db, ended(id), Number(q.get("ch")), Number(q.get("from")), Number(q.get("span")), idle ?? null);
    assertPlayerSegment(index, k, seg);
    out.push(seg);
  }
  return out;
}

async function apply(screen: ScreenModel, events: [number, string, unknown][]) {
  for (const [, code, data] of events) {
    if (code === "o") await screen.write(data as string);
    if (code === "r") await screen.resize(...((data as string).split("x").map(Number) as [number, number]));
  }
}

describe("terminal replay windows", () => {
  let id: string;
  beforeAll(async () => {
    ({ id } = await seedTerminalSession(handle.db, {}, syntheticShellRecording({ durationMs: 240_000, bytes: 3_000_000, cols: 100, rows: 30, seed: 7 })));
  });

  it("cuts a recording into windows the player accepts, whose keyframe + events give the screen of playing from the start", async () => {
    const index = await replayIndex(handle.db, ended(id), 0, null);
    assertPlayerIndex(index);
    expect(index.segments.length).toBeGreaterThan(10);
    expect(index.markers.length).toBeGreaterThan(5);
    const segs = await windows(id, index);
    const cast = await castEvents(id);
    // The reference emulates every byte (no scrolled-off skipping), independently of the keyframe pass.
    const full = new ScreenModel(100, 30, false);
    let next = 0;
    for (const [k, seg] of segs.entries()) {
      const end = k + 1 < segs.length ? index.segments[k + 1].start : Infinity;
      const upTo = cast.findIndex((e) => e[0] >= end);
      const part = cast.slice(next, upTo === -1 ? cast.length : upTo);
      next += part.length;
      // The window holds exactly the cast's events of its time range (plus an empty event at its start).
      expect(seg.events.slice(1).filter((e) => e[2] !== "" || e[1] !== "o")).toEqual(part.filter((e) => e[1] !== "m"));
      await apply(full, part);
      const resumed = await ScreenModel.from(seg.snapshot, false);
      await apply(resumed, seg.events);
      expect((await resumed.snapshot()).init, `window ${k}`).toBe((await full.snapshot()).init);
      resumed.dispose();
    }
    expect(next).toBe(cast.length);
    full.dispose();
  });

  it("compresses idle time the same way in the index, the windows and the console's mapping", async () => {
    const raw = await replayIndex(handle.db, ended(id), 0, null);
    const index = await replayIndex(handle.db, ended(id), 0, 2000);
    assertPlayerIndex(index);
    expect(index.duration).toBeLessThan(raw.duration - 30);
    const segs = await windows(id, index, 2000);
    const compressor = new IdleCompressor(index.gatehouse.gaps, index.gatehouse.idleMs);
    const cast = (await castEvents(id)).filter((e) => e[1] !== "m");
    const served = segs.flatMap((s) => s.events.filter((e) => !(e[1] === "o" && e[2] === "")));
    expect(served.map((e) => e[2])).toEqual(cast.filter((e) => !(e[1] === "o" && e[2] === "")).map((e) => e[2]));
    expect(served.map((e) => e[0])).toEqual(cast.filter((e) => !(e[1] === "o" && e[2] === "")).map((e) => compressor.map(Math.round(e[0] * 1000)) / 1000));
  });

  it("serves any time range from the keyframe at or before it", async () => {
    const index = await replayIndex(handle.db, ended(id), 0, null);
    const third = index.segments[3].start * 1000;
    const seg = await replayWindow(handle.db, ended(id), 0, third + 1234, 25_000, null);
    expect(seg.start).toBe(index.segments[3].start);
    expect(seg.end).toBeGreaterThanOrEqual((third + 1234 + 25_000) / 1000);
  });

  it("keeps finished keyframes in the database and reuses them after a restart (or in another process)", async () => {
    const entry = (await replayEntry(handle.db, ended(id), 0))!;
    await entry.building;
    expect(entry.complete).toBe(true);
    const stored = await storedKeyframes(handle.db, id, 0);
    expect(stored?.data.length).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(dataDir, "replay"))).toBe(false); // nothing per process on disk
    clearReplayMemory();
    const again = (await replayEntry(handle.db, ended(id), 0))!;
    expect(again).not.toBe(entry);
    expect(again.complete).toBe(true);
    expect(again.building).toBeNull();
    expect(again.snapshots.map((s) => s?.init)).toEqual(entry.snapshots.map((s) => s?.init));
  });

  it("prepares an ended session again when events are stored after its keyframes (a spool recovered later)", async () => {
    const s = new RecordingScript();
    s.add(0, "term.start", { ch: 0, cols: 80, rows: 24 });
    s.output(1_000, "before the kill\r\n");
    const { id: late } = await seedTerminalSession(handle.db, {}, s.rows);
    const first = (await replayEntry(handle.db, ended(late), 0))!;
    await first.building;
    expect((await replayIndex(handle.db, ended(late), 0, null)).duration).toBe(1);
    // the killed process's spooled output, stored when it starts again
    await appendSessionEvents(handle.db, late, [{ seq: 3, tMs: 40_000, kind: "term.o", payloadJson: JSON.stringify({ ch: 0, d: "recovered output\r\n" }) }]);
    const again = (await replayEntry(handle.db, ended(late), 0))!;
    expect(again).not.toBe(first);
    expect(again.lastSeq).toBe(3);
    expect((await replayIndex(handle.db, ended(late), 0, null)).duration).toBe(40);
    // and another process (nothing in memory) does not take the stored, older keyframes
    clearReplayMemory();
    const elsewhere = (await replayEntry(handle.db, ended(late), 0))!;
    expect(elsewhere.lastSeq).toBe(3);
    const seg = await replayWindow(handle.db, ended(late), 0, 39_000, 2_000, null);
    expect(seg.events.map((e) => e[2]).join("") + seg.snapshot.init).toContain("recovered output");
  });

  it("lists the channels and the non-I/O timeline", async () => {
    const t = await terminalTimeline(handle.db, id);
    expect(t.channels).toEqual([expect.objectContaining({ ch: 0, cols: 100, rows: 30, mode: "shell", exit: { code: 0 } })]);
    expect(t.events.some((e) => e.kind === "term.cmd")).toBe(true);
    expect(t.events.some((e) => e.kind === "request" && e.payload.verdict === "deny")).toBe(true);
    expect(t.events.every((e) => !["term.o", "term.i", "term.r"].includes(e.kind))).toBe(true);
  });
});

describe("replay of small and unusual recordings", () => {
  it("replays a second channel on its own clock and refuses channels that do not exist", async () => {
    const s = new RecordingScript();
    s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm" });
    s.output(100, "shell\r\n");
    s.add(5_000, "term.start", { ch: 1, mode: "exec", cols: 80, rows: 24, term: "dumb", command: "uptime" });
    s.output(5_100, "up 3 days\r\n", 1);
    s.add(5_200, "term.exit", { ch: 1, code: 0 });
    s.output(9_000, "still the shell\r\n");
    const { id } = await seedTerminalSession(handle.db, {}, s.rows);
    const one = await replayIndex(handle.db, ended(id), 1, null);
    assertPlayerIndex(one);
    expect(one.duration).toBe(0.2);
    const [seg] = await windows(id, one);
    expect(seg.events).toEqual([
      [0, "o", ""],
      [0.1, "o", "up 3 days\r\n"],
      [0.2, "o", ""],
    ]);
    await expect(replayIndex(handle.db, ended(id), 7, null)).rejects.toMatchObject({ code: "NOT_FOUND" });
    const { id: sql } = await seedTerminalSession(handle.db, {}, [{ seq: 1, tMs: 0, kind: "request", payloadJson: '{"text":"select 1"}' }]);
    await expect(replayIndex(handle.db, ended(sql), undefined, null)).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("a command in the timeline seeks to when its line was on screen: the Enter, or the echo of a line typed ahead", async () => {
    const s = new RecordingScript();
    s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm" });
    s.output(10, "$ ");
    // typed ahead: the whole line and its Enter arrive at once, the echo follows
    s.add(1_000, "term.i", { ch: 0, d: "make deploy\r" });
    const typedAhead = s.add(1_000, "term.cmd", { ch: 0, text: "make deploy", reconstructed: true });
    s.output(1_040, "make deploy\r\ndeploying\r\n$ ");
    // typed key by key: echoed as typed, so the Enter is the moment (the output after it is the command's)
    for (const [i, c] of [..."top"].entries()) {
      s.add(2_000 + i * 100, "term.i", { ch: 0, d: c });
      s.output(2_005 + i * 100, c);
    }
    s.add(2_400, "term.i", { ch: 0, d: "\r" });
    const typed = s.add(2_400, "term.cmd", { ch: 0, text: "top", reconstructed: true });
    s.output(2_410, "\x1b[?1049h\x1b[Htop - up 12 days");
    // typed ahead, and nothing printed for a while
    s.add(3_000, "term.i", { ch: 0, d: "sleep 10\r" });
    const quiet = s.add(3_000, "term.cmd", { ch: 0, text: "sleep 10", reconstructed: true });
    s.output(13_000, "$ ");
    // two lines pasted at once: both arrived with their Enter
    s.add(14_000, "term.i", { ch: 0, d: "cd /srv\rls\r" });
    const pasted = [s.add(14_000, "term.cmd", { ch: 0, text: "cd /srv", reconstructed: true }), s.add(14_000, "term.cmd", { ch: 0, text: "ls", reconstructed: true })];
    s.output(14_020, "cd /srv\r\n$ ls\r\napp\r\n$ ");
    const { id } = await seedTerminalSession(handle.db, {}, s.rows);
    const { events } = await terminalTimeline(handle.db, id);
    const cmd = (seq: number) => events.find((e) => e.seq === seq) as { tMs: number; seekMs?: number };
    expect(cmd(typedAhead.seq)).toMatchObject({ tMs: 1_000, seekMs: 1_040 });
    expect(cmd(typed.seq).seekMs).toBeUndefined();
    expect(cmd(quiet.seq).seekMs).toBeUndefined();
    expect(pasted.map((p) => cmd(p.seq).seekMs)).toEqual([14_020, 14_020]);
  });

  it("re-plans a live session as its recording grows", async () => {
    const s = new RecordingScript();
    s.add(0, "term.start", { ch: 0, cols: 80, rows: 24 });
    s.output(1_000, "one\r\n");
    const { id } = await seedTerminalSession(handle.db, { status: "live" }, s.rows);
    const live = { id, status: "live" };
    expect((await replayIndex(handle.db, live, 0, null)).duration).toBe(1);
    await appendSessionEvents(handle.db, id, [
      { seq: 3, tMs: 30_000, kind: "term.o", payloadJson: JSON.stringify({ ch: 0, d: "two\r\n" }) },
      { seq: 4, tMs: 31_000, kind: "term.o", payloadJson: JSON.stringify({ ch: 0, d: "three\r\n" }) },
    ]);
    const grown = await replayIndex(handle.db, live, 0, null);
    expect(grown.duration).toBe(31);
    expect(grown.segments.length).toBe(2);
    const seg = await replayWindow(handle.db, live, 0, 30_000, 1_000, null);
    expect(seg.snapshot.init).toContain("one");
    expect(seg.events.map((e) => e[2])).toContain("two\r\n");
  });

  it("prepares keyframes when a terminal session served by this process ends, not for other processes' sessions", async () => {
    const s = new RecordingScript();
    s.add(0, "term.start", { ch: 0, cols: 80, rows: 24 });
    for (let i = 0; i < 30; i++) s.output(i * 1_000, `line ${i}\r\n`);
    const mine = await seedTerminalSession(handle.db, {}, s.rows);
    const theirs = await seedTerminalSession(handle.db, {}, s.rows);
    const bus = new EventBus();
    const stop = startReplayIndexer(handle.db, bus);
    try {
      await bus.publish(Topics.sessionEnded, { id: mine.id, status: "ended" });
      bus["deliver"]({ topic: Topics.sessionEnded, data: { id: theirs.id, status: "ended" }, origin: "another-node" });
      for (let i = 0; i < 100 && !(await storedKeyframes(handle.db, mine.id, 0)); i++) await new Promise((r) => setTimeout(r, 50));
      expect(await storedKeyframes(handle.db, mine.id, 0)).not.toBeNull();
      expect(await storedKeyframes(handle.db, theirs.id, 0)).toBeNull();
    } finally {
      stop();
    }
  });
});
