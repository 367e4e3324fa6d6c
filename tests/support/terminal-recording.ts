import type { Db } from "@/db/client";
import { sessions } from "@/db/schema";
import { appendSessionEvents, type SessionEventRow } from "@/lib/services/sessions/append-events";

/**
 * Terminal recordings for tests and benchmarks, until the SSH gateway records real ones: a
 * `sessions` row plus `session_events` in the format of lib/gateway/recorder/TERMINAL.md,
 * written with the recorder's own batch insert.
 */
export interface SeedSession {
  id?: string;
  userEmail?: string;
  userId?: string | null;
  connectionName?: string;
  status?: "live" | "ended" | "killed" | "failed";
  startedAt?: Date;
}

export async function seedTerminalSession(db: Db, s: SeedSession, events: Iterable<SessionEventRow>): Promise<{ id: string; events: number; bytes: number }> {
  const startedAt = s.startedAt ?? new Date(Date.now() - 3_600_000);
  const [row] = await db
    .insert(sessions)
    .values({
      ...(s.id ? { id: s.id } : {}),
      userId: s.userId ?? null,
      userEmail: s.userEmail ?? "ops@example.test",
      chain: [{ kind: "user", id: s.userId ?? "00000000-0000-4000-8000-00000000aaaa", name: s.userEmail ?? "ops@example.test" }],
      connectionName: s.connectionName ?? "web-1",
      protocol: "ssh",
      clientAddress: "127.0.0.1",
      status: s.status ?? "ended",
      startedAt,
      endedAt: s.status === "live" ? null : new Date(startedAt.getTime() + 3_600_000),
    })
    .returning({ id: sessions.id });
  let batch: SessionEventRow[] = [];
  let batchBytes = 0;
  let count = 0;
  let bytes = 0;
  for (const e of events) {
    batch.push(e);
    batchBytes += e.payloadJson.length;
    count++;
    bytes += e.payloadJson.length;
    // Batches of a few MB, like a busy recorder's, keep PGlite's single backend responsive.
    if (batch.length >= 1000 || batchBytes >= 4_000_000) {
      await appendSessionEvents(db, row.id, batch);
      batch = [];
      batchBytes = 0;
    }
  }
  await appendSessionEvents(db, row.id, batch);
  return { id: row.id, events: count, bytes };
}

/** Builds event rows with increasing seq; `at` is milliseconds since the session started. */
export class RecordingScript {
  private seq = 0;
  readonly rows: SessionEventRow[] = [];
  outputBytes = 0;
  add(tMs: number, kind: string, payload: Record<string, unknown>) {
    const row = { seq: ++this.seq, tMs: Math.round(tMs), kind, payloadJson: JSON.stringify(payload) };
    this.rows.push(row);
    return row;
  }
  output(tMs: number, d: string, ch = 0) {
    this.outputBytes += Buffer.byteLength(d);
    return this.add(tMs, "term.o", { ch, d });
  }
  input(tMs: number, d: string, ch = 0) {
    return this.add(tMs, "term.i", { ch, d });
  }
  /** Types a command key by key (echoed), then records its reconstructed line. Returns the time after Enter. */
  type(tMs: number, text: string, ch = 0, keyMs = 80): number {
    let t = tMs;
    for (const c of text) {
      this.input(t, c, ch);
      this.output(t + 2, c, ch);
      t += keyMs;
    }
    this.input(t, "\r", ch);
    this.output(t + 2, "\r\n", ch);
    this.add(t + 3, "term.cmd", { ch, text, reconstructed: true });
    return t + 5;
  }
}

/** Deterministic PRNG (mulberry32) so every run writes the same recording. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua".split(" ");
const COMMANDS = ["make -j2", "tail -n 2000 /var/log/syslog", "npm test", "journalctl -u nginx --no-pager", "kubectl get pods -A", "cat build.log", "dmesg", "git log --stat"];

/**
 * A long shell recording: prompts, typed commands, output bursts coalesced like the recorder
 * (≤ 32 KiB per event, ≥ 25 ms apart), full-screen `top`-like redraws on the alternate screen,
 * and idle gaps — about `bytes` of output over `durationMs`. Text at known times lets a test
 * check what a seek shows: every output line starts with `[mm:ss.s]` of its event time.
 */
export function* syntheticShellRecording(opts: { durationMs: number; bytes: number; cols?: number; rows?: number; seed?: number }): Generator<SessionEventRow> {
  const cols = opts.cols ?? 120;
  const rows = opts.rows ?? 40;
  const rand = rng(opts.seed ?? 42);
  const script = new RecordingScript();
  const flush = function* () {
    yield* script.rows.splice(0);
  };
  script.add(0, "connect", { action: "connect", kind: "read", tables: [], functions: [], text: "" });
  script.add(1, "term.start", { ch: 0, mode: "shell", cols, rows, term: "xterm-256color" });
  let t = 50;
  let n = 0;
  const stamp = (ms: number) => `${String(Math.floor(ms / 60000)).padStart(2, "0")}:${((ms % 60000) / 1000).toFixed(1).padStart(4, "0")}`;
  const avgSceneMs = 20_000;
  while (t < opts.durationMs - 5_000) {
    const scenesLeft = Math.max(1, (opts.durationMs - t) / avgSceneMs);
    const burst = Math.max(1000, ((opts.bytes - script.outputBytes) / scenesLeft) * (0.5 + rand()));
    script.output(t, `\x1b[1;32mops@web-1\x1b[0m:\x1b[1;34m~/app\x1b[0m$ `);
    const cmd = COMMANDS[n++ % COMMANDS.length];
    t = script.type(t + 300, cmd, 0, 60 + Math.floor(rand() * 60));
    if (n % 7 === 3) {
      script.add(t, "request", { action: "exec", kind: "write", tables: [], functions: [], text: `sudo systemctl restart nginx #${n}`, verdict: "deny", policies: ["no-sudo"], reason: "sudo is not allowed" });
      t += 2; // the recorder's clock never runs backwards across events
    }
    if (n % 10 === 0) {
      // A full-screen program: alternate screen, cursor addressing, redraws.
      script.output(t, "\x1b[?1049h\x1b[?25l");
      for (let frame = 0; frame < 20; frame++) {
        let screen = `\x1b[H\x1b[7m top - ${stamp(t)} up 12 days, load average: ${(rand() * 4).toFixed(2)} \x1b[K\x1b[0m\r\n`;
        for (let r = 1; r < rows - 1; r++) screen += `\x1b[${r + 1};1H${String(1000 + r).padStart(6)} ops   20   0 ${(rand() * 100).toFixed(1).padStart(5)}%  ${WORDS[(r + frame) % WORDS.length]}\x1b[K`;
        script.output(t, screen);
        t += 500;
      }
      script.output(t, "\x1b[?25h\x1b[?1049l");
    }
    let sent = 0;
    let line = 0;
    while (sent < burst) {
      let chunk = "";
      while (chunk.length < 32_000 && sent + chunk.length < burst) {
        const words = Array.from({ length: 4 + Math.floor(rand() * 10) }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");
        chunk += `\x1b[36m[${stamp(t)}]\x1b[0m line ${++line} \x1b[3${1 + (line % 6)}m${words}\x1b[0m\r\n`;
      }
      script.output(t, chunk);
      sent += chunk.length;
      t += 25 + Math.floor(rand() * 40);
      yield* flush();
    }
    t += 2_000 + Math.floor(rand() * 14_000);
    yield* flush();
  }
  t = Math.max(t, opts.durationMs - 3_000);
  script.output(t, `\x1b[1;32mops@web-1\x1b[0m:\x1b[1;34m~/app\x1b[0m$ `);
  t = script.type(t + 200, "exit");
  script.output(t, "logout\r\n");
  script.add(opts.durationMs - 1, "term.exit", { ch: 0, code: 0 });
  script.add(opts.durationMs, "end", { status: "ended" });
  yield* flush();
}
