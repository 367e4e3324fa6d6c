import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite } from "@/db/client";
import { login, startGatehouse, type GatehouseProcess } from "../support/gatehouse";
import { RecordingScript, seedTerminalSession } from "../support/terminal-recording";

/**
 * What the console serves from recordings whose bytes a remote host or a client chose, against a
 * real Gatehouse process.
 */
describe("console: hostile recordings", () => {
  let gh: GatehouseProcess;
  let dataDir: string;
  let token: string;
  let hostile: string;
  let huge: string;

  const get = async (pathname: string) => {
    const res = await fetch(`${gh.url}/api/v1${pathname}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, headers: res.headers, body: res.headers.get("content-type")?.startsWith("application/json") ? await res.json() : await res.text() };
  };

  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-console-hunt-"));
    const db = await openPglite(path.join(dataDir, "db"));
    try {
      // Output a shell on any host can print: `printf 'a\e[2147483647b\e[2147483647L'`. Each of
      // these took xterm.js a minute or more of one synchronous parse.
      const s = new RecordingScript();
      s.add(0, "term.start", { ch: 0, mode: "shell", cols: 80, rows: 24, term: "xterm" });
      s.output(100, "$ ");
      for (let i = 0; i < 4; i++) s.output(1_000 + i * 500, `a\x1b[2147483647b\x1b[1;1H\x1b[2147483647L\x1b[2147483647S\x1b[2147483647M`);
      for (let t = 3_000; t < 40_000; t += 2_500) s.output(t, `\x1b[2J\x1b[Hline at ${t}\r\n`);
      s.add(40_500, "term.exit", { ch: 0, code: 0 });
      hostile = (await seedTerminalSession(db.db, {}, s.rows)).id;
      // A pty-req's size is the client's; the recording keeps any below 10 000: 9999×9999 is
      // 10⁸ cells (1.2 GB in xterm.js) for whoever emulates it.
      const h = new RecordingScript();
      h.add(0, "term.start", { ch: 0, mode: "shell", cols: 9_999, rows: 9_999, term: "xterm" });
      for (let t = 100; t < 40_000; t += 2_500) h.output(t, `\x1b[Hhuge at ${t}\r\n`);
      h.add(40_500, "term.exit", { ch: 0, code: 0 });
      huge = (await seedTerminalSession(db.db, {}, h.rows)).id;
    } finally {
      await db.close();
    }
    gh = await startGatehouse({ dataDir, demo: false });
    token = await login(gh.url, gh.adminEmail, gh.adminPassword);
  }, 300_000);

  afterAll(async () => {
    await gh?.stop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const indexOf = async (id: string) => {
    const index = await get(`/sessions/${id}/replay?ch=0`);
    expect(index.status).toBe(200);
    expect(index.body.segments.length).toBeGreaterThan(2);
    return index.body as { term: { cols: number; rows: number }; segments: { url: string }[] };
  };
  const lastWindow = async (id: string) => {
    const { segments } = await indexOf(id);
    return get(`/sessions/${id}/${segments[segments.length - 1].url}`);
  };

  it("builds a keyframe past huge line, scroll and repeat counts, and stays responsive", async () => {
    const win = await lastWindow(hostile);
    expect(win.status).toBe(200);
    expect(win.body.snapshot.init).toMatch(/line at \d+/);
    expect((await get("/me")).status).toBe(200);
  }, 120_000);

  it("builds a keyframe of a recording with a pty-req of 9999×9999, at a bounded size", async () => {
    const win = await lastWindow(huge);
    expect(win.status).toBe(200);
    expect(win.body.snapshot.cols).toBeLessThanOrEqual(500);
    expect(win.body.snapshot.rows).toBeLessThanOrEqual(300);
    expect(win.body.snapshot.init).toMatch(/huge at \d+/);
    expect((await get("/me")).status).toBe(200);
  }, 120_000);

  it("hands the browser's player bounded sizes and counts (it allocates and loops like the server)", async () => {
    const big = await indexOf(huge);
    expect(big.term).toEqual({ cols: 500, rows: 300 });
    const index = await indexOf(hostile);
    const first = await get(`/sessions/${hostile}/${index.segments[0].url}`);
    expect(first.status).toBe(200);
    const output = (first.body.events as [number, string, string][]).filter((e) => e[1] === "o").map((e) => e[2]).join("");
    expect(output).toContain("\x1b[24L");
    expect(output).not.toContain("2147483647");
  });

  it("answers API reads that carry recordings, tokens and audit rows with Cache-Control: no-store", async () => {
    // A browser's disk cache outlives the sign-out and any later loss of access.
    for (const p of [`/sessions/${hostile}/export?format=jsonl`, `/sessions/${hostile}/export?format=asciicast`, `/sessions/${hostile}/events`, `/sessions/${hostile}/terminal?ch=0`, `/sessions/${hostile}`, "/sessions", "/audit", "/audit/export", "/tokens", "/me", "/connections"]) {
      const res = await get(p);
      expect(res.status, p).toBe(200);
      expect(String(res.headers.get("cache-control")), p).toMatch(/no-store/);
    }
    const unauthenticated = await fetch(`${gh.url}/api/v1/sessions`);
    expect(unauthenticated.status).toBe(401);
    expect(String(unauthenticated.headers.get("cache-control"))).toMatch(/no-store/);
  });
});
