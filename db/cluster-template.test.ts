import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { PGlite } from "@electric-sql/pglite";
import { drizzle } from "drizzle-orm/pglite";
import { migrate } from "drizzle-orm/pglite/migrator";
import { initClusterInChild, migrationsDigest } from "./client";
import { clusterTemplates } from "./cluster-template";

/**
 * A new embedded cluster is a copy of one this installation made before (same PGlite, same
 * start parameters); what a copy's owner writes stays in that copy, and a template someone else
 * could have written is not used.
 */
describe("cluster templates", () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "gh-template-"));
  const cache = path.join(root, "cache");
  // a parameter no other test uses, so this file's template is its own
  const startParams = [...PGlite.defaultStartParams, "-c", "shared_buffers=24MB"];
  const templates = () => clusterTemplates(startParams, cache)!;
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const newDir = (name: string) => {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    return dir;
  };
  const onlyTemplate = () => {
    const names = fs.readdirSync(cache);
    expect(names).toHaveLength(1);
    return path.join(cache, names[0]);
  };
  const digestOf = (dir: string): string => {
    const h = createHash("sha256");
    for (const f of (fs.readdirSync(dir, { recursive: true }) as string[]).sort()) {
      const p = path.join(dir, f);
      if (fs.statSync(p).isFile()) h.update(f).update(fs.readFileSync(p));
    }
    return h.digest("hex");
  };
  async function roundTrip(dir: string, write?: string): Promise<string[]> {
    const db = await PGlite.create(dir, { startParams });
    try {
      if (write) {
        await db.exec("create table if not exists t (v text)");
        await db.query("insert into t values ($1)", [write]);
      }
      const t = await db.query<{ v: string }>("select v from t order by v").catch(() => ({ rows: [] as { v: string }[] }));
      return t.rows.map((r) => r.v);
    } finally {
      await db.close();
    }
  }

  it("the first cluster is made by initdb and kept; the next is a copy that opens as its own cluster", async () => {
    const first = newDir("first");
    await initClusterInChild(first, startParams, clusterTemplates(startParams, cache));
    const template = onlyTemplate();
    expect(fs.statSync(template).mode & 0o077).toBe(0);
    const before = digestOf(template);

    expect(await roundTrip(first, "first's row")).toEqual(["first's row"]);

    const second = newDir("second");
    const t0 = performance.now();
    await initClusterInChild(second, startParams, clusterTemplates(startParams, cache));
    const copiedMs = performance.now() - t0;
    expect(fs.existsSync(`${second}.initdb`)).toBe(false);
    // a fresh cluster: nothing the first one wrote, and its own writes stay its own
    expect(await roundTrip(second)).toEqual([]);
    expect(await roundTrip(second, "second's row")).toEqual(["second's row"]);
    expect(await roundTrip(first)).toEqual(["first's row"]);
    expect(digestOf(template)).toBe(before);
    console.log(`[cluster-template] a new cluster copied in ${Math.round(copiedMs)} ms`);
  });

  it("a template others could have written is not used: initdb runs, and the cluster is still good", async () => {
    const template = onlyTemplate();
    fs.writeFileSync(path.join(template, "planted"), "x");
    fs.chmodSync(template, 0o777);
    try {
      expect(templates().copyTo(path.join(root, "refused"))).toBe(false);
      expect(fs.existsSync(path.join(root, "refused"))).toBe(false);
      const third = newDir("third");
      await initClusterInChild(third, startParams, clusterTemplates(startParams, cache));
      expect(fs.existsSync(path.join(third, "planted"))).toBe(false);
      expect(await roundTrip(third, "third's row")).toEqual(["third's row"]);
    } finally {
      fs.chmodSync(template, 0o700);
    }
  });

  it("a store's template is migrated in the child and kept apart from the plain one; a copy has nothing left to migrate", async () => {
    const folder = path.resolve(import.meta.dirname, "migrations");
    const migrated = () => clusterTemplates(startParams, cache, { migrations: migrationsDigest(folder) });
    const plain = onlyTemplate();
    const store = newDir("store");
    await initClusterInChild(store, startParams, migrated(), { migrationsFolder: folder });
    const kept = fs.readdirSync(cache).filter((n) => path.join(cache, n) !== plain);
    expect(kept).toHaveLength(1);

    const copy = newDir("store-copy");
    await initClusterInChild(copy, startParams, migrated(), { migrationsFolder: folder });
    const db = await PGlite.create(copy, { startParams });
    try {
      const applied = await db.query<{ n: number }>("select count(*)::int as n from drizzle.__drizzle_migrations");
      const journal = JSON.parse(fs.readFileSync(path.join(folder, "meta", "_journal.json"), "utf8")) as { entries: unknown[] };
      expect(applied.rows[0].n).toBe(journal.entries.length);
      const t0 = performance.now();
      await migrate(drizzle(db), { migrationsFolder: folder });
      console.log(`[cluster-template] migrating a copy of the store's template: ${Math.round(performance.now() - t0)} ms`);
      // DDL only: the store starts empty, exactly as one migrated in place
      expect((await db.query<{ n: number }>("select count(*)::int as n from users")).rows[0].n).toBe(0);
    } finally {
      await db.close();
    }
    // the demo's plain cluster is still a plain one
    const demo = newDir("demo");
    await initClusterInChild(demo, startParams, clusterTemplates(startParams, cache));
    const plainDb = await PGlite.create(demo, { startParams });
    try {
      expect((await plainDb.query("select 1 from pg_namespace where nspname = 'drizzle'")).rows).toEqual([]);
    } finally {
      await plainDb.close();
    }
    // new migrations, new template
    expect(clusterTemplates(startParams, cache, { migrations: "another" })!.copyTo(path.join(root, "other"))).toBe(false);
  });

  it("a template that cannot be copied leaves nothing behind and initdb runs", async () => {
    const unreadable = clusterTemplates(startParams, path.join(root, "missing-cache"))!;
    expect(unreadable.copyTo(path.join(root, "none"))).toBe(false);
    expect(fs.existsSync(path.join(root, "none"))).toBe(false);
  });
});
