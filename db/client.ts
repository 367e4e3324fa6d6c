import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { isProcessAlive } from "../lib/util/process-alive";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { clusterTemplates } from "./cluster-template";
import { orderedNotify } from "./notify";
import { dbPoolSize } from "./pool-size";
import * as schema from "./schema";

export type Schema = typeof schema;
export type Db = PgDatabase<PgQueryResultHKT, Schema>;
/** A drizzle transaction has the same query surface; services accept either. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

export interface DbHandle {
  db: Db;
  kind: "pglite" | "postgres";
  /** raw rows for the few statements drizzle does not model (advisory locks, LISTEN) */
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  /** postgres only: LISTEN on a channel; returns an unlisten function */
  listen?(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  notify?(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** db/migrations: beside this file, or, from the server bundle (dist/server.mjs), in ../db. */
function migrationsDir(): string {
  if (process.env.GATEHOUSE_MIGRATIONS_DIR) return process.env.GATEHOUSE_MIGRATIONS_DIR;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const beside = path.join(/*turbopackIgnore: true*/ here, "migrations");
  return fs.existsSync(beside) ? beside : path.join(/*turbopackIgnore: true*/ here, "..", "db", "migrations");
}

type Holder = { handle?: DbHandle; opening?: Promise<DbHandle> };
const holder: Holder = ((globalThis as Record<string, unknown>).__gatehouseDb ??= {}) as Holder;

/** The process-wide database, shared through globalThis so Next's bundle and server.ts use one instance. */
export function getDbHandle(): Promise<DbHandle> {
  if (holder.handle) return Promise.resolve(holder.handle);
  holder.opening ??= openFromEnv().then((h) => (holder.handle = h));
  return holder.opening;
}

export async function getDb(): Promise<Db> {
  return (await getDbHandle()).db;
}

export function setDbHandle(handle: DbHandle | undefined) {
  holder.handle = handle;
  holder.opening = handle ? Promise.resolve(handle) : undefined;
}

async function openFromEnv(): Promise<DbHandle> {
  const url = process.env.DATABASE_URL;
  if (url) return openPostgres(url);
  const dataDir = path.resolve(/*turbopackIgnore: true*/ process.env.GATEHOUSE_DATA_DIR ?? "./data");
  return openPglite(path.join(dataDir, "db"));
}

/**
 * Bumped each time this process opens a store. A process serves one store; what it remembers of
 * that store's contents (the audit log's keyed row and newest rotation: services/audit/append.ts)
 * belongs to the store it was learnt from, and is not held against the next one a test opens.
 */
const stores = globalThis as { __gatehouseStoreGeneration?: number };
export const storeGeneration = () => stores.__gatehouseStoreGeneration ?? 0;
const storeOpened = () => void (stores.__gatehouseStoreGeneration = storeGeneration() + 1);

export async function openPostgres(url: string): Promise<DbHandle> {
  storeOpened();
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migratePostgresStore } = await import("./migrate-postgres");
  const client = postgres(url, { max: dbPoolSize(), onnotice: () => {}, connect_timeout: 10 });
  const db = drizzle(client, { schema });
  // one process at a time; indexes added to a store in use are built without blocking its writers
  await migratePostgresStore(client, db, migrationsDir());
  return {
    db: db as unknown as Db,
    kind: "postgres",
    query: async (text, params = []) => (await client.unsafe(text, params as never[])) as never,
    listen: async (channel, onPayload) => {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    notify: orderedNotify((text, params) => client.unsafe(text, params)),
    close: () => client.end({ timeout: 5 }),
  };
}

/**
 * PostgreSQL allocates its whole buffer pool at start, and inside PGlite's WebAssembly memory all
 * of it is written then: the default 128 MB were resident from the first second. Gatehouse's
 * tables are small except the append-only recordings, whose hot part is their tail, and a page
 * evicted from the pool is still in the OS page cache: with 32 MB, recording through the
 * PostgreSQL gateway cost the same CPU per statement in bench/postgres (TPC-B) as with 128 MB.
 */
const PGLITE_SHARED_BUFFERS = process.env.GATEHOUSE_PGLITE_SHARED_BUFFERS ?? "32MB";

/** Embedded PostgreSQL. dir = null → in memory (tests). */
export async function openPglite(dir: string | null): Promise<DbHandle> {
  storeOpened();
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  if (!/^\d+(kB|MB|GB)?$/.test(PGLITE_SHARED_BUFFERS)) throw new Error(`GATEHOUSE_PGLITE_SHARED_BUFFERS must be a size such as 32MB, not "${PGLITE_SHARED_BUFFERS}"`);
  const startParams = [...PGlite.defaultStartParams, "-c", `shared_buffers=${PGLITE_SHARED_BUFFERS}`];
  let releaseLock = () => {};
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    releaseLock = acquireDataDirLock(path.dirname(dir));
  }
  try {
    const migrationsFolder = migrationsDir();
    if (dir && fs.readdirSync(dir).length === 0) {
      const templates = clusterTemplates(startParams, undefined, { migrations: migrationsDigest(migrationsFolder) });
      await initClusterInChild(dir, startParams, templates, { migrationsFolder });
    }
    const client = await PGlite.create(dir ?? undefined, { startParams });
    const db = drizzle(client, { schema });
    // a no-op on a cluster the child already migrated; the real thing on an older data dir
    await migrate(db, { migrationsFolder });
    return {
      db: db as unknown as Db,
      kind: "pglite",
      query: async (text, params = []) => (await client.query(text, params)).rows as never,
      close: async () => {
        await client.close();
        releaseLock();
      },
    };
  } catch (err) {
    releaseLock();
    throw err;
  }
}

/**
 * A new data dir: initdb runs in a child process, which creates the cluster in a sibling dir and
 * exits; it is then renamed into place (a failed initdb leaves no half-made cluster behind).
 * In this process, PGlite's initdb runs a second PostgreSQL instance whose memory is freed
 * afterwards, but what the C allocator handed out meanwhile (100–450 MB measured) stayed
 * resident for the life of the process. When the child cannot run, initdb runs here as before.
 * With `migrationsFolder` the child also applies Gatehouse's migrations (0.8 s of a first start,
 * more CPU than Next.js's), so what it keeps as the template is a migrated store: the template's
 * key then includes the migrations' digest (`migrationsDigest`), and a new data dir of the same
 * code starts from it with nothing left to migrate. The migrations are DDL only (no rows, no
 * secrets), so every copy is as new as a store migrated in place.
 * A cluster this installation already made with the same PGlite and parameters is copied instead
 * (cluster-template.ts).
 */
export async function initClusterInChild(
  dir: string,
  startParams: string[],
  templates = clusterTemplates(startParams),
  setup: { migrationsFolder?: string } = {},
): Promise<void> {
  const staging = `${dir}.initdb`; // ours alone: the caller holds the data dir's lock
  fs.rmSync(staging, { recursive: true, force: true });
  if (templates?.copyTo(staging)) {
    fs.rmdirSync(dir);
    fs.renameSync(staging, dir);
    return;
  }
  // bundled (dist/): the child resolves the packages from the working directory
  const resolve = (specifier: string) => {
    try {
      return import.meta.resolve(specifier);
    } catch {
      return specifier;
    }
  };
  const migrate = setup.migrationsFolder
    ? `const { drizzle } = await import(${JSON.stringify(resolve("drizzle-orm/pglite"))}); const { migrate } = await import(${JSON.stringify(resolve("drizzle-orm/pglite/migrator"))}); await migrate(drizzle(db), { migrationsFolder: ${JSON.stringify(setup.migrationsFolder)} });`
    : "";
  const code = `${exitWithParent(process.pid)} const { PGlite } = await import(${JSON.stringify(resolve("@electric-sql/pglite"))}); const db = await PGlite.create(process.argv[1], { startParams: JSON.parse(process.argv[2]) }); ${migrate} await db.close();`;
  const env = { ...process.env };
  delete env.NODE_OPTIONS; // preloads meant for the server (profilers, loaders) are not for initdb
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(process.execPath, ["--input-type=module", "-e", code, staging, JSON.stringify(startParams)], { env, timeout: 120_000 }, (err, _out, stderr) =>
        err ? reject(new Error(`exit ${err.code ?? err.signal}${stderr ? `: ${stderr.trim().slice(-500)}` : ""}`)) : resolve(),
      ),
    );
    templates?.keep(staging);
    fs.rmdirSync(dir);
    fs.renameSync(staging, dir);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    console.warn(`[db] initdb in a child process failed, running it in this process: ${(err as Error).message}`);
  }
}

/** What the migrations folder holds (names and contents): part of a migrated template's key. */
export function migrationsDigest(folder: string): string {
  const h = createHash("sha256");
  for (const name of (fs.readdirSync(folder, { recursive: true }) as string[]).sort()) {
    const file = path.join(folder, name);
    if (fs.statSync(file).isFile()) h.update(`${name}\0`).update(fs.readFileSync(file)).update("\0");
  }
  return h.digest("hex");
}

/**
 * Module code that ends its process once `parentPid` is no longer its parent (the parent died and
 * it was reparented): an orphaned initdb otherwise ran to the end, or for ever if it hung. A
 * thread watches, because initdb holds the main thread in WebAssembly for seconds at a time.
 */
export function exitWithParent(parentPid: number): string {
  return `new (await import("node:worker_threads")).Worker("setInterval(() => { if (process.ppid !== ${parentPid}) process.kill(process.pid, 'SIGKILL'); }, 500);", { eval: true }).unref();`;
}

/**
 * PGlite has no inter-process locking: two processes on one data dir corrupt it. An O_EXCL
 * lockfile holding our pid stops the second one; a lock left by a dead process is taken over.
 */
export function acquireDataDirLock(dataDir: string): () => void {
  const lockPath = path.join(dataDir, "gatehouse.lock");
  const mine = JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, mine, { flag: "wx" });
      return () => {
        try {
          if (fs.readFileSync(lockPath, "utf8") === mine) fs.unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holderInfo: { pid?: number; startedAt?: string } = {};
      try {
        holderInfo = JSON.parse(fs.readFileSync(lockPath, "utf8"));
      } catch {
        /* unreadable lock: treat as stale */
      }
      if (holderInfo.pid && holderInfo.pid !== process.pid && isProcessAlive(holderInfo.pid)) {
        throw new Error(
          `The data directory ${dataDir} is in use by another Gatehouse process (pid ${holderInfo.pid}, started ${holderInfo.startedAt}). ` +
            `Stop it first, or point GATEHOUSE_DATA_DIR elsewhere, or use DATABASE_URL to share a PostgreSQL between processes.`,
        );
      }
      fs.rmSync(lockPath, { force: true });
    }
  }
  throw new Error(`could not take the lock ${lockPath}`);
}
