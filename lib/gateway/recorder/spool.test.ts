import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openPglite, type Db, type DbHandle } from "@/db/client";
import { sessionEventsPage } from "@/db/queries/sessions";
import { sessionEvents, sessions } from "@/db/schema";
import { OutputPacker } from "./packed-output";
import { SessionRecorder } from "./recorder";
import { recoverSpools } from "./recover-spool";
import { orphanedSpools, processSpool, readSpoolFile, Spool } from "./spool";
import { flakyDb } from "@/tests/support/flaky-db";

const uuid = (n: number) => `00000000-0000-4000-8000-${n.toString(16).padStart(12, "0")}`;

/** A pid that belonged to a process which has exited (what a killed gateway leaves behind). */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"]).stdout.toString());
}

describe("recording spool", () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-spool-"));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads back exactly what was appended, and empties its file once everything is stored", () => {
    const spool = new Spool(path.join(dir, `${process.pid}-1`));
    const chunks = [crypto.randomBytes(40_000), Buffer.alloc(0), Buffer.from("text ü€\n")];
    const refs = chunks.map((c, i) => spool.append({ s: uuid(1), seq: i + 1, t: i, k: "term.o", p: { ch: 0 } }, c));
    expect(refs.map((r) => r.segment.read(r))).toEqual(chunks);
    expect(spool.pendingBytes).toBeGreaterThan(40_000);
    for (const r of refs) r.segment.stored();
    expect(spool.pendingBytes).toBe(0);
    expect(fs.statSync(refs[0].segment.file).size).toBe(0);
    spool.close();
    expect(fs.existsSync(refs[0].segment.file)).toBe(false);
  });

  it("a file cut short mid-record yields the complete records before the cut", () => {
    const spool = new Spool(path.join(dir, `${process.pid}-2`));
    const refs = [1, 2, 3].map((seq) => spool.append({ s: uuid(2), seq, t: seq, k: "term.o", p: { ch: 1 } }, Buffer.alloc(1000, seq)));
    const file = refs[0].segment.file;
    spool.flush();
    fs.truncateSync(file, fs.statSync(file).size - 10);
    const got = [...readSpoolFile(file)];
    expect(got.map((r) => r.header.seq)).toEqual([1, 2]);
    expect(got[1].data.equals(Buffer.alloc(1000, 2))).toBe(true);
  });

  it("names only the files of processes that are gone as orphans, oldest segment first", () => {
    const own = path.join(dir, "orphans");
    fs.mkdirSync(own);
    const dead = deadPid();
    const mine = path.basename(processSpool().prefix);
    // an earlier process with this process's pid (a container restarts with the same pid) is gone too
    const names = [`${dead}-5-1.spool`, `${dead}-5-0.spool`, `${mine}-0.spool`, `${process.pid}-3-0.spool`, `${process.ppid}-4-0.spool`, "notes.txt"];
    for (const name of names) fs.writeFileSync(path.join(own, name), "");
    expect(orphanedSpools(own).map((f) => path.basename(f))).toEqual([`${process.pid}-3-0.spool`, `${dead}-5-0.spool`, `${dead}-5-1.spool`]);
  });
});

describe("spool recovery and bulk recording against a real (embedded) database", () => {
  let handle: DbHandle;
  beforeAll(async () => {
    handle = await openPglite(null);
  });
  afterAll(() => handle.close());

  async function newSession(db: Db): Promise<string> {
    const [row] = await db.insert(sessions).values({ userEmail: "a@example.test", chain: [], connectionName: "c", protocol: "ssh" }).returning({ id: sessions.id });
    return row.id;
  }

  async function termOutput(id: string): Promise<Buffer> {
    const out: Buffer[] = [];
    for (let after = 0; ; ) {
      const page = await sessionEventsPage(handle.db, id, after, 500);
      if (!page.length) return Buffer.concat(out);
      after = page[page.length - 1].seq;
      for (const e of page) {
        const p = e.payload as { d?: string; b64?: string };
        if (e.kind === "term.o") out.push(p.d !== undefined ? Buffer.from(p.d) : Buffer.from(p.b64 ?? "", "base64"));
      }
    }
  }

  it("stores what a killed process left in its spool, once, for sessions the database knows", async () => {
    const id = await newSession(handle.db);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "gh-recover-"));
    const spool = new Spool(path.join(dir, `${deadPid()}-7`));
    const text = Buffer.from("line of output\n".repeat(2000));
    const random = crypto.randomBytes(50_000);
    // seq 1 reached the database before the kill; 2 and 3 did not; the unknown session is skipped
    const rec = new SessionRecorder(handle.db, id);
    rec.record("term.start", { ch: 0, mode: "exec", cols: 80, rows: 24, term: "" });
    expect(await rec.close()).toBe(0);
    spool.append({ s: id, seq: 1, t: 0, k: "term.start", p: { ch: 0 } }, Buffer.alloc(0));
    spool.append({ s: id, seq: 2, t: 5, k: "term.o", p: { ch: 0 } }, text);
    spool.append({ s: id, seq: 3, t: 9, k: "term.o", p: { ch: 0, err: true } }, random);
    spool.append({ s: uuid(0xdead), seq: 1, t: 0, k: "term.o", p: { ch: 0 } }, text);
    spool.flush();

    const files = orphanedSpools(dir);
    expect(files).toHaveLength(1);
    expect(await recoverSpools(handle.db, files)).toEqual({ files: 1, events: 2, sessions: [id] });
    expect(fs.existsSync(files[0])).toBe(false);
    const rows = await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, id)).orderBy(asc(sessionEvents.seq));
    expect(rows.map((r) => [r.seq, r.kind])).toEqual([
      [1, "term.start"],
      [2, "term.o"],
      [3, "term.o"],
    ]);
    expect(rows[1].payload).toMatchObject({ bin: "z" });
    expect(rows[2].payload).toMatchObject({ bin: "raw", err: true });
    expect((await termOutput(id)).equals(Buffer.concat([text, random]))).toBe(true);
    expect(await handle.db.select().from(sessionEvents).where(eq(sessionEvents.sessionId, uuid(0xdead)))).toEqual([]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("bulk output recorded while the database is down is kept in the spool and stored, in order, when it returns", async () => {
    let down = true;
    const flaky = flakyDb(handle.db, () => down);
    const id = await newSession(handle.db);
    const rec = new SessionRecorder(flaky, id);
    const packer = new OutputPacker();
    const chunks = Array.from({ length: 40 }, (_, i) => (i % 2 ? crypto.randomBytes(32 * 1024) : Buffer.from(`chunk ${i}\n`.repeat(4000))));
    const spooled = processSpool().pendingBytes;
    for (const c of chunks) rec.recordBulk("term.o", { ch: 0 }, c, packer);
    expect(rec.spooled).toBe(40);
    expect(processSpool().pendingBytes).toBeGreaterThanOrEqual(spooled + chunks.reduce((n, c) => n + c.length, 0));
    await rec.flush();
    expect(rec.pending).toBe(40);
    down = false;
    expect(await rec.close()).toBe(0);
    expect(rec.spooled).toBe(0);
    expect((await termOutput(id)).equals(Buffer.concat(chunks))).toBe(true);
  });

  it("bulk output of a session that ends while the database stays down stays in the spool for the next start", async () => {
    const flaky = flakyDb(handle.db, () => true);
    const id = await newSession(handle.db);
    const rec = new SessionRecorder(flaky, id);
    const chunks = Array.from({ length: 5 }, (_, i) => Buffer.from(`kept ${i}\n`.repeat(3000)));
    for (const c of chunks) rec.recordBulk("term.o", { ch: 0 }, c, new OutputPacker());
    rec.record("exit", { code: 0 }); // in memory only: that one is lost
    const file = rec.queue.find((r) => r.spooled)!.spooled!.ref.segment.file;
    expect(await rec.close(300)).toBe(1);
    processSpool().flush();
    // what recoverSpools reads at the next start: every chunk, byte for byte
    const kept = [...readSpoolFile(file)].filter((r) => r.header.s === id);
    expect(kept.map((r) => r.header.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(Buffer.concat(kept.map((r) => r.data)).equals(Buffer.concat(chunks))).toBe(true);
    expect(fs.existsSync(file)).toBe(true);
  });
});
