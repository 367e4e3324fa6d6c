/**
 * SSH gateway overhead: a real OpenSSH sshd measured directly and through Gatehouse, in the same
 * run, printing the ratios against the targets.
 *   - bulk output: `head -c 256M /dev/zero` over exec with the real `ssh` client (MB/s), the same
 *     amount of text lines (`yes`), and a random (incompressible, non-UTF-8) file, the worst case
 *     for output recording; each a few times, the median reported;
 *   - keystroke round trip: an ssh2 shell with a pty running `cat` in raw mode; one byte sent,
 *     its echo awaited, N samples, p50/p95. Added latency = gateway p50 - direct p50.
 * Targets (issue 5): throughput ≥ 0.5 of direct; added round-trip p50 ≤ 2 ms.
 *
 * Needs root (the sshd test account) and a production build (`npm run build`, or
 * GATEHOUSE_NEXT_DIST_DIR pointing at one). Exits 1 when the gateway half cannot run.
 * Direct and gateway runs alternate, each starting on an idle machine (the gateway stores the
 * recording after a transfer; the time it takes is reported too).
 * The gateway runs twice, recording into the embedded PGlite and into a real PostgreSQL 15 via
 * DATABASE_URL (the scale-out setup), since recording is most of what bulk output costs.
 * Usage: npm run bench:ssh -- [--mb 256] [--random-mb 256] [--reps 3] [--samples 200] [--gap-ms 10] [--store pglite|postgres|both]
 *   [--only rtt,zeros,text,random,rttBusy] [--verbose]
 */
import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import postgres from "postgres";
import { Client } from "ssh2";
import { apiCall, login, ROOT, startGatehouse, type GatehouseProcess } from "../../tests/support/gatehouse";
import { spawnClient, COMMON_OPTIONS, authOptions, type SshTarget } from "../../tests/support/ssh-client";
import { startPostgres15 } from "../../tests/support/postgres";
import { startSshd, type Sshd } from "../../tests/support/sshd";
import { processCpuMs } from "../postgres/memory";

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const BULK_MB = arg("mb", 256);
const RANDOM_MB = arg("random-mb", 256);
/** each bulk measure runs this many times per side, alternating; the median is reported */
const REPS = arg("reps", 3);
const SAMPLES = arg("samples", 200);
const WARMUP = 20;
/** typing cadence: back-to-back bytes keep every process hot and report an unrealistically low floor */
const GAP_MS = arg("gap-ms", 10);
/** `--verbose`: each run's figures on stderr as it ends */
const VERBOSE = process.argv.includes("--verbose");
const TARGET_THROUGHPUT_RATIO = 0.5;
const TARGET_ADDED_P50_MS = 2;

type Bulk = "zeros" | "text" | "random";
interface Side {
  /** seconds from the end of a bulk transfer until the machine was idle again (the recording stored), the longest */
  settle?: Partial<Record<Bulk, number>>;
  /** MB/s of each run */
  bulk: Partial<Record<Bulk, number[]>>;
  /**
   * CPU ms per MB during each run: the whole machine (every process and the kernel), the gateway
   * process alone, and of that its main thread (the rest is V8's helper threads: garbage collection)
   */
  cpu?: Partial<Record<Bulk, { machine: number[]; gateway: number[]; main: number[] }>>;
  rtt?: { p50: number; p95: number };
  /** measured again right after the bulk sessions, while the gateway prepares their replay keyframes */
  rttBusy?: { p50: number; p95: number };
  error?: string;
}

/** The machine's CPU time so far (all CPUs), in ms: in total and idle (idle and iowait). */
function machineCpuMs(): { total: number; idle: number } {
  const [, ...f] = fs.readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).map(Number);
  // user nice system idle iowait irq softirq steal (guest time is counted in user), 100 Hz ticks
  const ticks = f.slice(0, 8);
  return { total: ticks.reduce((a, b) => a + b, 0) * 10, idle: (ticks[3] + ticks[4]) * 10 };
}

/** CPU time used so far, in ms: by the whole machine (all CPUs, busy), by one process (all threads), or by one of its threads. */
function cpuMs(pid?: number, tid?: number): number {
  if (pid === undefined) {
    const m = machineCpuMs();
    return m.total - m.idle;
  }
  const p = processCpuMs(pid, tid);
  return p.user + p.sys;
}

/**
 * Streams `command`'s stdout over the real ssh client: MB/s (1 MB = 2^20 bytes), and the CPU ms
 * per MB the machine and the gateway process (`gatewayPid`) spent meanwhile: where the cost is.
 * The gateway's thread is the bottleneck of a transfer through it (MB/s ≈ 1000 / its ms per MB).
 */
async function throughput(t: SshTarget, command: string, expectBytes: number, gatewayPid?: number): Promise<{ mbps: number; machine: number; gateway: number; main: number }> {
  const args = ["-p", String(t.port), ...COMMON_OPTIONS, ...authOptions(t), "-T", `${t.user}@${t.host ?? "127.0.0.1"}`, "--", command];
  const child = spawnClient("ssh", args, t);
  child.stdin!.end();
  let bytes = 0;
  let stderr = "";
  let start = 0n;
  let cpu0 = { machine: 0, gateway: 0, main: 0 };
  child.stdout!.on("data", (d: Buffer) => {
    // The clock starts at the first byte: connection setup and login are not throughput.
    if (!start) {
      start = process.hrtime.bigint();
      cpu0 = { machine: cpuMs(), gateway: gatewayPid ? cpuMs(gatewayPid) : 0, main: gatewayPid ? cpuMs(gatewayPid, gatewayPid) : 0 };
    }
    bytes += d.length;
  });
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  const mb = bytes / 2 ** 20;
  const cpu = {
    machine: (cpuMs() - cpu0.machine) / mb,
    gateway: gatewayPid ? (cpuMs(gatewayPid) - cpu0.gateway) / mb : 0,
    main: gatewayPid ? (cpuMs(gatewayPid, gatewayPid) - cpu0.main) / mb : 0,
  };
  if (code !== 0 || bytes !== expectBytes) throw new Error(`ssh exited ${code} after ${bytes} of ${expectBytes} bytes: ${stderr.trim() || "(no stderr)"}`);
  return { mbps: mb / secs, ...cpu };
}

function connect(t: SshTarget): Promise<Client> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.once("ready", () => resolve(c));
    c.once("error", reject);
    c.on("keyboard-interactive", (_n, _i, _l, prompts, finish) => finish(prompts.map(() => t.password ?? "")));
    c.connect({ host: t.host ?? "127.0.0.1", port: t.port, username: t.user, password: t.password, tryKeyboard: true, readyTimeout: 15_000 });
  });
}

/** One byte out, its echo back, `SAMPLES` times, through a pty running `cat` in raw mode. */
async function roundTrip(t: SshTarget): Promise<{ p50: number; p95: number }> {
  const client = await connect(t);
  try {
    const stream = await new Promise<import("ssh2").ClientChannel>((resolve, reject) =>
      client.shell({ term: "xterm", cols: 80, rows: 24 }, (err, s) => (err ? reject(err) : resolve(s))),
    );
    let buf = "";
    let waiter: (() => void) | null = null;
    stream.on("data", (d: Buffer) => {
      buf += d.toString("latin1");
      waiter?.();
    });
    const waitFor = (needle: string, ms: number) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${JSON.stringify(needle)} within ${ms} ms; got ${JSON.stringify(buf.slice(-200))}`)), ms);
        waiter = () => {
          if (!buf.includes(needle)) return;
          clearTimeout(timer);
          waiter = null;
          resolve();
        };
        waiter();
      });
    // Raw mode and no tty echo: each byte comes back exactly once, from cat, as with an editor.
    // RE""ADY is the tty echoing the typed line; READY appears once the shell ran it (raw mode: no CR).
    stream.write(`stty raw -echo; echo RE""ADY; exec cat\r`);
    await waitFor("READY\n", 15_000);
    await new Promise((r) => setTimeout(r, 200));
    const times: number[] = [];
    for (let i = 0; i < WARMUP + SAMPLES; i++) {
      buf = "";
      const ch = String.fromCharCode(97 + (i % 26));
      const t0 = process.hrtime.bigint();
      stream.write(ch);
      await waitFor(ch, 5_000);
      if (i >= WARMUP) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (GAP_MS) await new Promise((r) => setTimeout(r, GAP_MS));
    }
    stream.close();
    times.sort((a, b) => a - b);
    const pct = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))];
    return { p50: pct(50), p95: pct(95) };
  } finally {
    client.end();
  }
}

/** the gateway's: with its process id, for the CPU it spends */
type Target = SshTarget & { pid?: number };
type Step = (t: Target, randomFile: string, side: Side) => Promise<void>;
const bulkStep =
  (key: Bulk, command: (file: string) => string, mb: number): Step =>
  async (t, f, side) => {
    const r = await throughput(t, command(f), mb * 2 ** 20, t.pid);
    (side.bulk[key] ??= []).push(r.mbps);
    const cpu = ((side.cpu ??= {})[key] ??= { machine: [], gateway: [], main: [] });
    cpu.machine.push(r.machine);
    cpu.gateway.push(r.gateway);
    cpu.main.push(r.main);
    if (VERBOSE) console.error(`${key} ${t.pid ? "gateway" : "direct"}: ${r.mbps.toFixed(1)} MB/s, machine ${r.machine.toFixed(2)} ms/MB${t.pid ? `, gateway ${r.gateway.toFixed(2)} ms/MB (main thread ${r.main.toFixed(2)}), rss ${/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${t.pid}/status`, "utf8"))![1]} kB` : ""}`);
  };
const ALL_STEPS: [string, Step][] = [
  ["rtt", async (t, _f, side) => void (side.rtt = await roundTrip(t))],
  ["zeros", bulkStep("zeros", () => `head -c ${BULK_MB}M /dev/zero`, BULK_MB)],
  // Lines of printable text, what a terminal mostly carries.
  ["text", bulkStep("text", () => `yes '${"log line 0123456789 ".repeat(5).trim()}' | head -c ${BULK_MB}M`, BULK_MB)],
  ["random", bulkStep("random", (f) => `cat ${f}`, RANDOM_MB)],
  ["rttBusy", async (t, _f, side) => void (side.rttBusy = await roundTrip(t))],
];
const isBulk = (name: string): name is Bulk => name === "zeros" || name === "text" || name === "random";
const median = (xs: number[] | undefined) => (xs?.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : undefined);
/** `--only zeros,random` runs those measures alone (e.g. to profile one of them). */
const ONLY = (() => {
  const i = process.argv.indexOf("--only");
  return i > 0 ? process.argv[i + 1].split(",") : null;
})();
const STEPS = ALL_STEPS.filter(([name]) => !ONLY || ONLY.includes(name));

/**
 * Waits until the whole machine is idle (< 15% of the CPUs busy over 500 ms), at most 120 s.
 * The gateway stores spooled output after a transfer and prepares replay keyframes; measuring
 * the next step (direct or not) while it does would compare against a slowed-down machine. The
 * wait is reported: it is how long a bulk recording takes to land.
 */
async function machineIdle(): Promise<void> {
  const t0 = Date.now();
  let prev = machineCpuMs();
  for (;;) {
    await new Promise((r) => setTimeout(r, 500));
    const now = machineCpuMs();
    const share = 1 - (now.idle - prev.idle) / Math.max(1, now.total - prev.total);
    prev = now;
    if (share < 0.15 || Date.now() - t0 > 120_000) return;
  }
}

/** Runs one step on one side; after a side's first failure it is skipped (no repeated timeouts). */
async function step(fn: Step, t: Target | null, randomFile: string, side: Side) {
  if (!t || side.error) return;
  try {
    await fn(t, randomFile, side);
  } catch (err) {
    side.error = (err as Error).message;
  }
}

async function gatewayTarget(gh: GatehouseProcess, sshd: Sshd): Promise<Target> {
  const admin = await login(gh.url, gh.adminEmail, gh.adminPassword);
  const created = await apiCall(gh.url, admin, "POST", "/connections", {
    name: "bench-ssh",
    type: "ssh",
    upstream: `ssh://127.0.0.1:${sshd.port}`,
    username: sshd.user,
    secret: sshd.password,
    options: { hostKey: sshd.hostKeyFingerprint },
  });
  if (created.status !== 200) throw new Error(`creating the ssh connection failed: ${created.status} ${JSON.stringify(created.body)}`);
  const token = await apiCall(gh.url, admin, "POST", "/tokens", { name: "bench-ssh", ttlSeconds: 3600 });
  if (token.status !== 200 || typeof token.body.token !== "string") throw new Error(`creating a token failed: ${token.status} ${JSON.stringify(token.body)}`);
  return { port: gh.ports.ssh, user: "bench-ssh", password: token.body.token, pid: gh.proc.pid };
}

const fmt = (n: number | undefined, digits = 1) => (n === undefined ? "—" : n.toFixed(digits));

type Store = "pglite" | "postgres";
const STORES = (() => {
  const i = process.argv.indexOf("--store");
  const v = i > 0 ? process.argv[i + 1] : "both";
  return (v === "both" ? ["pglite", "postgres"] : [v]) as Store[];
})();

function report(direct: Side, gated: { store: Store; side: Side }[]) {
  console.log(`\nSSH, OpenSSH sshd upstream on loopback; bulk ${BULK_MB} MB zeros and text / ${RANDOM_MB} MB random via exec (ssh client), median of ${REPS} runs each, round trip ${SAMPLES} keystrokes ${GAP_MS} ms apart (ssh2, pty, raw cat)`);
  console.log("Gatehouse recording into: pglite = embedded PGlite (on the gateway's thread), postgres = PostgreSQL 15 via DATABASE_URL\n");
  console.log(`${"measure".padEnd(35)}${"direct".padStart(8)}${gated.map((g) => `${g.store.padStart(10)}  ratio`).join("")}   target`);
  const verdict = (ok: boolean | undefined) => (ok === undefined ? "" : ok ? "ok" : "MISSED");
  const throughputRow = (label: string, key: Bulk) => {
    const d = median(direct.bulk[key]);
    const gs = gated.map((g) => median(g.side.bulk[key]));
    const cells = gs.map((v) => `${fmt(v).padStart(10)}${(d && v !== undefined ? (v / d).toFixed(2) : "—").padStart(7)}`);
    const ok = gs.every((v) => v !== undefined) && d ? gs.every((v) => v! / d >= TARGET_THROUGHPUT_RATIO) : undefined;
    console.log(`${label.padEnd(35)}${fmt(d).padStart(8)}${cells.join("")}   ≥ ${TARGET_THROUGHPUT_RATIO} ${verdict(ok)}`);
  };
  throughputRow("bulk output, zeros (MB/s)", "zeros");
  throughputRow("bulk output, text lines (MB/s)", "text");
  throughputRow("bulk output, random (MB/s)", "random");
  const cpu = (side: Side, pick: "machine" | "gateway" | "main") => (["zeros", "text", "random"] as const).map((k) => fmt(median(side.cpu?.[k]?.[pick]))).join("/");
  console.log(`${"… CPU per MB, zeros/text/random (ms)".padEnd(35)} machine: direct ${cpu(direct, "machine")}, ${gated.map((g) => `${g.store} ${cpu(g.side, "machine")}`).join(", ")}; gateway process: ${gated.map((g) => `${g.store} ${cpu(g.side, "gateway")} (main thread ${cpu(g.side, "main")})`).join(", ")}`);
  const settled = gated.map((g) => `${(["zeros", "text", "random"] as const).map((k) => fmt(g.side.settle?.[k])).join("/").padStart(10)}       `);
  console.log(`${"… recording stored after (s)".padEnd(35)}${"".padStart(8)}${settled.join("")}   zeros/text/random`);
  for (const [key, label] of [["rtt", "keystroke round trip"], ["rttBusy", "… after bulk, keyframing"]] as const) {
    for (const p of ["p50", "p95"] as const) {
      const d = direct[key]?.[p];
      const cells = gated.map((g) => `${fmt(g.side[key]?.[p], 2).padStart(10)}${(d !== undefined && g.side[key] ? `+${(g.side[key]![p] - d).toFixed(2)}` : "—").padStart(7)}`);
      const ok = key === "rtt" && p === "p50" && d !== undefined && gated.every((g) => g.side.rtt) ? gated.every((g) => g.side.rtt!.p50 - d <= TARGET_ADDED_P50_MS) : undefined;
      console.log(`${`${label} ${p} (ms)`.padEnd(35)}${fmt(d, 2).padStart(8)}${cells.join("")}   ${key === "rtt" && p === "p50" ? `added ≤ ${TARGET_ADDED_P50_MS} ms ${verdict(ok)}` : ""}`);
    }
  }
  console.log("\nratio = gatehouse / direct throughput (1.00 = no overhead); CPU per MB = CPU time spent during the transfer (the machine: every process and the kernel, 2 cores; the gateway: its process, and its main thread, the relay's; the difference is V8's helper threads, garbage collection), medians; “recording stored after” = seconds from the client having every byte until the machine was idle again (the recording in the database, replay keyframes prepared; an upper bound, it includes the 0.5 s idle probe): bulk output is spooled to disk during the transfer and stored from there (lib/gateway/recorder/spool.ts). Each measure starts on an idle machine. For round trips, the added milliseconds; the second pair runs through the gateway right after the bulk transfers, while it still stores and indexes them. SSH compression is off on both legs, so zeros, text and random differ only in what the gateway's recording and masking do with them.");
  if (direct.error) console.log(`\ndirect measurement FAILED: ${direct.error}`);
  // startGatehouse's error carries the whole server log: its tail is what explains a failure.
  for (const g of gated) if (g.side.error) console.log(`\ngateway (${g.store}) measurement FAILED: ${g.side.error.length > 3000 ? "…" + g.side.error.slice(-3000) : g.side.error}`);
}

async function main() {
  const distDir = process.env.GATEHOUSE_NEXT_DIST_DIR || ".next";
  const haveBuild = fs.existsSync(path.join(ROOT, distDir, "BUILD_ID"));
  if (!haveBuild) console.error(`No production build in ${distDir}/ (no BUILD_ID): run \`npm run build\` (or set GATEHOUSE_NEXT_DIST_DIR to a built dir). Measuring the direct half only.`);

  const sshd = await startSshd();
  const pg = STORES.includes("postgres") ? await startPostgres15() : null;
  const gates: { store: Store; gh: GatehouseProcess | null; target: Target | null; side: Side }[] = STORES.map((store) => ({ store, gh: null, target: null, side: { bulk: {} } }));
  const direct: Side = { bulk: {} };
  try {
    if (pg) {
      const setup = postgres(pg.url, { max: 1, onnotice: () => {} });
      await setup.unsafe("create database gatehouse");
      await setup.end();
    }
    // Served from a file, not /dev/urandom: the kernel's generator would be the bottleneck.
    const randomFile = path.join(sshd.dir, "random.bin");
    fs.writeFileSync(randomFile, crypto.randomBytes(RANDOM_MB * 2 ** 20), { mode: 0o644 });
    const directTarget: SshTarget = { port: sshd.port, user: sshd.user, password: sshd.password };
    for (const g of gates) {
      if (!haveBuild) g.side.error = `no production build in ${distDir}/`;
      else {
        try {
          g.gh = await startGatehouse({ demo: false, env: g.store === "postgres" ? { DATABASE_URL: pg!.url.replace(/\/postgres$/, "/gatehouse") } : {} });
          g.target = await gatewayTarget(g.gh, sshd);
        } catch (err) {
          g.side.error = (err as Error).message;
        }
      }
    }
    // Every measure starts on an idle machine, except the keystrokes right after the bulk
    // transfers: those run through the gateway first, while it still stores and indexes.
    let transferred: { side: Side; key: Bulk; at: number }[] = [];
    const settle = async () => {
      await machineIdle();
      const settle = (side: Side) => (side.settle ??= {});
      for (const t of transferred) settle(t.side)[t.key] = Math.max(settle(t.side)[t.key] ?? 0, (Date.now() - t.at) / 1000);
      transferred = [];
    };
    for (const [name, fn] of STEPS) {
      for (let rep = 0; rep < (isBulk(name) ? REPS : 1); rep++) {
        if (name !== "rttBusy") {
          await settle();
          await step(fn, directTarget, randomFile, direct);
        }
        for (const g of gates) {
          if (name !== "rttBusy") await settle();
          await step(fn, g.target, randomFile, g.side);
          if (isBulk(name)) transferred.push({ side: g.side, key: name, at: Date.now() });
        }
        if (name === "rttBusy") {
          await settle();
          await step(fn, directTarget, randomFile, direct);
        }
      }
    }
    await settle();
    for (const g of gates) {
      if (g.gh && g.side.error && /ECONNREFUSED|Connection refused/.test(g.side.error)) {
        g.side.error = `nothing accepts SSH on the gateway port ${g.gh.ports.ssh} (is the SSH gateway of issue 5 in this build?): ${g.side.error}`;
      }
    }
    report(direct, gates);
    for (const g of gates) if (g.side.error && g.gh) console.error(`\nlast gatehouse (${g.store}) output:\n${g.gh.output().split("\n").filter((l) => !l.includes("GET ")).slice(-30).join("\n")}`);
  } finally {
    for (const g of gates) {
      await g.gh?.stop();
      if (g.gh) fs.rmSync(g.gh.dataDir, { recursive: true, force: true });
    }
    await pg?.stop();
    await sshd.stop();
  }
  process.exit(direct.error || gates.some((g) => g.side.error) ? 1 : 0);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
