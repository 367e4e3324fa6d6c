import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { exitWithParent, openPglite } from "./client";

/**
 * The embedded database's data dir: a new one is created by a child process (initdb) and then
 * opened here, with the smaller buffer pool; a restart finds everything it wrote.
 */
describe("openPglite on a data dir", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "gh-pglite-"));
  const dir = path.join(root, "db");
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  it("creates the cluster in a child process and opens it migrated, with a 32 MB buffer pool", async () => {
    const warn = vi.spyOn(console, "warn");
    const h = await openPglite(dir);
    try {
      // The fallback (initdb in this process) announces itself: it must not have been needed.
      expect(warn.mock.calls.flat().join(" ")).not.toContain("initdb");
      expect(fs.existsSync(path.join(dir, "PG_VERSION"))).toBe(true);
      expect(fs.existsSync(`${dir}.initdb`)).toBe(false);
      expect((await h.query<{ shared_buffers: string }>("show shared_buffers"))[0].shared_buffers).toBe("32MB");
      const tables = await h.query<{ n: number }>("select count(*)::int as n from pg_tables where schemaname = 'public' and tablename = 'session_events'");
      expect(tables[0].n).toBe(1);
      await h.query("create table kept (v text)");
      await h.query("insert into kept values ('before restart')");
    } finally {
      warn.mockRestore();
      await h.close();
    }
  });

  it("reopens the same dir with what was written", async () => {
    const h = await openPglite(dir);
    try {
      expect(await h.query("select v from kept")).toEqual([{ v: "before restart" }]);
    } finally {
      await h.close();
    }
  });
});

describe("the initdb child", () => {
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  it("ends when its parent dies, even while its main thread is busy", async () => {
    // a parent that starts a child spinning on its main thread (as initdb does in WebAssembly), then is killed
    const watchdog = exitWithParent(999_999_999);
    const parentCode = `const c = require("node:child_process").spawn(process.execPath, ["--input-type=module", "-e", process.argv[1].replace("999999999", String(process.pid)) + " for (;;) {}"], { stdio: "ignore" }); console.log(c.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["-e", parentCode, watchdog], { stdio: ["ignore", "pipe", "inherit"] });
    const childPid = await new Promise<number>((resolve) => parent.stdout.once("data", (d: Buffer) => resolve(Number(String(d).trim()))));
    try {
      await new Promise((r) => setTimeout(r, 1000));
      expect(alive(childPid)).toBe(true);
      parent.kill("SIGKILL");
      await vi.waitFor(() => expect(alive(childPid)).toBe(false), { timeout: 10_000, interval: 100 });
    } finally {
      if (alive(childPid)) process.kill(childPid, "SIGKILL");
    }
  });
});
