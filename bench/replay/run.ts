/**
 * Terminal replay latency through the HTTP API the console's player uses, for a long recording:
 * first frame (index + first window) and seeks, cold (nothing prepared: the keyframe pass starts
 * with the first request), warm (keyframes ready), and after a restart (keyframes from the data
 * dir). Targets (issue 5): first frame < 1 s, seek < 300 ms for a 1-hour, 100 MB recording.
 * The browser adds its own share (parsing a window, feeding the player); e2e/replay.spec.ts
 * reports what Chromium measured.
 *
 * Usage: npx tsx bench/replay/run.ts [--minutes 60] [--mb 100] [--seeks 20]
 * (needs a production build, like the integration tests: GATEHOUSE_NEXT_DIST_DIR selects it)
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { openPglite } from "@/db/client";
import { login, startGatehouse, type GatehouseProcess } from "../../tests/support/gatehouse";
import { seedTerminalSession, syntheticShellRecording } from "../../tests/support/terminal-recording";
import { pct } from "../stats";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const MINUTES = arg("minutes", 60);
const MB = arg("mb", 100);
const SEEKS = arg("seeks", 20);

interface Index {
  duration: number;
  segments: { start: number; url: string }[];
}

async function timed(url: string, token: string) {
  const t0 = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${text.slice(0, 200)}`);
  return { ms: performance.now() - t0, bytes: text.length, body: JSON.parse(text) };
}

const ms = (x: number) => `${Math.round(x)} ms`;

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-bench-replay-"));
  let gh: GatehouseProcess | null = null;
  try {
    const db = await openPglite(path.join(dataDir, "db"));
    const t0 = performance.now();
    const seeded = await seedTerminalSession(db.db, {}, syntheticShellRecording({ durationMs: MINUTES * 60_000, bytes: MB * 1_000_000 }));
    await db.close();
    console.log(`recording: ${MINUTES} min, ~${MB} MB of output in ${seeded.events} events (seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    const rows: [string, string, string][] = [];
    const measure = async (label: string) => {
      gh = await startGatehouse({ dataDir, demo: false });
      const token = await login(gh.url, gh.adminEmail, gh.adminPassword);
      const base = `${gh.url}/api/v1/sessions/${seeded.id}/`;
      const index = await timed(`${base}replay?ch=0`, token);
      const ix = index.body as Index;
      const first = await timed(base + ix.segments[0].url, token);
      rows.push([`${label}: first frame (index + first window)`, ms(index.ms + first.ms), "< 1000 ms"]);
      const nearEnd = await timed(base + ix.segments[ix.segments.length - 3].url, token);
      rows.push([`${label}: first seek, near the end`, ms(nearEnd.ms), "< 300 ms"]);
      return { token, base, ix };
    };

    const cold = await measure("cold");
    const lat: number[] = [];
    const sizes: number[] = [];
    for (let i = 0; i < SEEKS; i++) {
      const k = Math.floor(((i * 7919) % SEEKS) / SEEKS * cold.ix.segments.length);
      const w = await timed(cold.base + cold.ix.segments[k].url, cold.token);
      lat.push(w.ms);
      sizes.push(w.bytes);
    }
    rows.push([`warm: seek (${SEEKS} windows) p50 / p95 / max`, `${ms(pct(lat, 50))} / ${ms(pct(lat, 95))} / ${ms(Math.max(...lat))}`, "< 300 ms"]);
    rows.push(["window size p50 / max", `${(pct(sizes, 50) / 1e6).toFixed(2)} / ${(Math.max(...sizes) / 1e6).toFixed(2)} MB`, ""]);
    const idle = await timed(`${cold.base}replay?ch=0&idle=2`, cold.token);
    const idleIx = idle.body as Index;
    const idleWin = await timed(cold.base + idleIx.segments[Math.floor(idleIx.segments.length / 2)].url, cold.token);
    rows.push(["warm, pauses ≤ 2 s: index + a seek", `${ms(idle.ms)} + ${ms(idleWin.ms)}`, ""]);
    rows.push([`windows`, `${cold.ix.segments.length} over ${Math.round(cold.ix.duration)} s (${Math.round(idleIx.duration)} s at pauses ≤ 2 s)`, ""]);
    await (gh as GatehouseProcess | null)?.stop();
    gh = null;

    await measure("after restart (keyframes from the data dir)");
    console.log("");
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [a, b, c] of rows) console.log(`${a.padEnd(w)}  ${b.padEnd(28)} ${c}`);
  } finally {
    await (gh as GatehouseProcess | null)?.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
