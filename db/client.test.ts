import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { openPglite } from "./client";

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
