import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "@/db/client";
import { runCli } from "../support/cli";
import { apiCall, login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { assertPlayerIndex, assertPlayerSegment, type PlayerIndexLike, type PlayerSegmentLike } from "../support/segmented-recording";
import { RecordingScript, seedTerminalSession, syntheticShellRecording } from "../support/terminal-recording";

/**
 * Replay and export against a real Gatehouse process, with a one-hour, ~100 MB terminal
 * recording written into its embedded database before it starts (as the SSH gateway's recorder
 * would have). Measures, through the HTTP API the console uses: the first frame (index + first
 * window), seeks while keyframes are still being prepared (cold) and after (warm), and after a
 * restart (keyframes from the data dir). Timings are printed, never asserted: bench/replay/run.ts
 * measures them against the targets.
 */
const HOUR = 3_600_000;
const BYTES = 100_000_000;

describe("terminal replay and export through the HTTP API", () => {
  let gh: GatehouseProcess;
  let dataDir: string;
  let token: string;
  let big: { id: string; events: number; bytes: number };
  let small: string;
  const outputBytes = { big: 0 };
  const timings: Record<string, number> = {};

  const get = async (pathname: string, as = token) => {
    const t0 = performance.now();
    const res = await fetch(`${gh.url}/api/v1${pathname}`, { headers: { authorization: `Bearer ${as}` } });
    const body = res.headers.get("content-type")?.includes("json") ? await res.json() : await res.text();
    return { status: res.status, body, ms: performance.now() - t0 };
  };
  const windowOf = (id: string, index: PlayerIndexLike, k: number) => `/sessions/${id}/${index.segments[k].url}`;

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-replay-it-"));
    const db = await openPglite(path.join(dataDir, "db"));
    try {
      const t0 = performance.now();
      const rec = syntheticShellRecording({ durationMs: HOUR, bytes: BYTES, cols: 120, rows: 40 });
      big = await seedTerminalSession(
        db.db,
        { connectionName: "web-1", userEmail: "ops@example.test" },
        (function* () {
          for (const row of rec) {
            if (row.kind === "term.o") outputBytes.big += Buffer.byteLength(JSON.parse(row.payloadJson).d);
            yield row;
          }
        })(),
      );
      timings.seedSeconds = (performance.now() - t0) / 1000;
      const s = new RecordingScript();
      s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm" });
      s.output(100, "$ ");
      const t = s.type(200, "echo hi");
      s.output(t, "hi\r\n$ ");
      s.add(t + 500, "term.exit", { ch: 0, code: 0 });
      small = (await seedTerminalSession(db.db, {}, s.rows)).id;
    } finally {
      await db.close();
    }
    gh = await startGatehouse({ dataDir, demo: false });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 300_000);

  afterAll(async () => {
    console.log(`[terminal-replay] ${big?.events} events, ${(outputBytes.big / 1e6).toFixed(1)} MB output over 1 h; timings (ms):`, JSON.stringify(timings));
    await gh?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("shows the first frame of a cold 1-hour, 100 MB recording, then seeks", async () => {
    expect(outputBytes.big).toBeGreaterThan(95_000_000);
    const t0 = performance.now();
    const index = await get(`/sessions/${big.id}/replay?ch=0`);
    expect(index.status).toBe(200);
    assertPlayerIndex(index.body);
    const first = await get(windowOf(big.id, index.body, 0));
    expect(first.status).toBe(200);
    assertPlayerSegment(index.body, 0, first.body);
    timings.coldIndex = Math.round(index.ms);
    timings.coldFirstFrame = Math.round(performance.now() - t0);
    expect(Math.abs(index.body.duration - 3600)).toBeLessThan(10);
    expect(index.body.segments.length).toBeGreaterThan(200);
    expect(index.body.markers.length).toBeGreaterThan(100);
    // The whole recording is never sent: the first window is a small part of it.
    expect(JSON.stringify(first.body).length).toBeLessThan(3_000_000);

    // Seek near the end while the keyframe pass (started by the index request) is still running.
    const k = index.body.segments.length - 5;
    const cold = await get(windowOf(big.id, index.body, k));
    expect(cold.status).toBe(200);
    assertPlayerSegment(index.body, k, cold.body);
    timings.coldSeekNearEnd = Math.round(cold.ms);
    // Each line of output starts with the time it was printed: the screen after the keyframe is from just before it.
    const stamp = /\[(\d\d):(\d\d\.\d)\]/g;
    const stamps = [...(cold.body as PlayerSegmentLike).snapshot.init.matchAll(stamp)].map((m) => Number(m[1]) * 60 + Number(m[2]));
    if (stamps.length) expect(Math.max(...stamps)).toBeLessThanOrEqual(index.body.segments[k].start + 0.1);

    // Warm: every keyframe exists now; seeks anywhere cost one window.
    const warm: number[] = [];
    for (const f of [0.1, 0.25, 0.5, 0.66, 0.8, 0.9, 0.33, 0.05, 0.95, 0.7]) {
      const j = Math.floor(f * index.body.segments.length);
      const w = await get(windowOf(big.id, index.body, j));
      expect(w.status).toBe(200);
      assertPlayerSegment(index.body, j, w.body);
      warm.push(w.ms);
    }
    warm.sort((a, b) => a - b);
    timings.warmSeekP50 = Math.round(warm[5]);
    timings.warmSeekMax = Math.round(warm[9]);
  }, 180_000);

  it("compresses idle time on request", async () => {
    const index = await get(`/sessions/${big.id}/replay?ch=0&idle=1`);
    expect(index.status).toBe(200);
    assertPlayerIndex(index.body);
    expect(index.body.duration).toBeLessThan(3000);
    const k = Math.floor(index.body.segments.length / 2);
    const w = await get(windowOf(big.id, index.body, k));
    assertPlayerSegment(index.body, k, w.body);
    timings.idleSeek = Math.round(w.ms);
  });

  it("exports the whole channel as asciicast v2, streamed, with every byte of output", async () => {
    const t0 = performance.now();
    const res = await fetch(`${gh.url}/api/v1/sessions/${big.id}/export?format=asciicast`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toContain(".cast");
    const lines = readline.createInterface({ input: Readable.fromWeb(res.body as never) });
    let header: Record<string, unknown> | null = null;
    let last = 0;
    let bytes = 0;
    let markers = 0;
    for await (const line of lines) {
      const v = JSON.parse(line);
      if (!header) {
        header = v;
        continue;
      }
      expect(v[0]).toBeGreaterThanOrEqual(last);
      last = v[0];
      if (v[1] === "o") bytes += Buffer.byteLength(v[2]);
      if (v[1] === "m") markers++;
    }
    timings.exportSeconds = Math.round((performance.now() - t0) / 100) / 10;
    expect(header).toMatchObject({ version: 2, width: 120, height: 40, title: "ops@example.test → web-1", env: { TERM: "xterm-256color" } });
    expect(bytes).toBe(outputBytes.big);
    expect(markers).toBeGreaterThan(100);
    expect(last).toBeLessThanOrEqual(3610);
  }, 120_000);

  it("exports with the CLI to a file", async () => {
    const out = path.join(dataDir, "small.cast");
    const run = await runCli(["sessions", "export", small, "--format", "asciicast", "--channel", "0", "-o", out], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token, HOME: dataDir } });
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`wrote`);
    const lines = fs.readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ version: 2, width: 80, height: 24 });
    expect(lines.slice(1).map((l) => l[2]).join("")).toContain("echo hi");
    expect(lines.some((l) => l[1] === "m" && l[2] === "echo hi")).toBe(true);
    const missing = await runCli(["sessions", "export", small, "--format", "asciicast", "--channel", "9"], { env: { GATEHOUSE_URL: gh.url, GATEHOUSE_TOKEN: token, HOME: dataDir } });
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain("no terminal channel 9");
  });

  it("checks the session object on every replay route: not yours looks like not found", async () => {
    for (const role of ["member", "auditor"]) {
      await apiCall(gh.url, token, "POST", "/users", { email: `${role}@example.test`, password: "role-password-123", role });
    }
    const member = await login(gh.url, "member@example.test", "role-password-123");
    const auditor = await login(gh.url, "auditor@example.test", "role-password-123");
    const paths = [`/sessions/${small}/replay?ch=0`, `/sessions/${small}/replay?ch=0&from=0&span=1000`, `/sessions/${small}/replay/timeline`, `/sessions/${small}/export?format=asciicast`];
    for (const p of paths) {
      expect({ p, status: (await get(p, member)).status }).toEqual({ p, status: 404 });
      expect({ p, status: (await get(p, auditor)).status }).toEqual({ p, status: 200 });
    }
    expect((await get(`/sessions/${small}/replay?ch=0&from=-5`)).status).toBe(400);
  });

  it("keeps keyframes across a restart (in the database), so the first seek after it is warm", async () => {
    await gh.stop();
    // the keyframe pass of the first test stored them, in the data dir's database
    const db = await openPglite(path.join(dataDir, "db"));
    try {
      const [stored] = await db.query<{ n: number }>("select count(*)::int as n from replay_keyframes where session_id = $1 and ch = 0", [big.id]);
      expect(stored.n).toBe(1);
    } finally {
      await db.close();
    }
    gh = await startGatehouse({ dataDir, demo: false });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
    const t0 = performance.now();
    const index = await get(`/sessions/${big.id}/replay?ch=0`);
    const k = index.body.segments.length - 3;
    const w = await get(windowOf(big.id, index.body, k));
    assertPlayerSegment(index.body, k, w.body);
    timings.restartIndex = Math.round(index.ms);
    timings.restartSeekNearEnd = Math.round(w.ms);
    timings.restartFirstSeekTotal = Math.round(performance.now() - t0);
  }, 120_000);
});
