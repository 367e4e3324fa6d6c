import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
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

const MIGRATIONS = process.env.GATEHOUSE_MIGRATIONS_DIR ?? path.join(/*turbopackIgnore: true*/ path.dirname(fileURLToPath(import.meta.url)), "migrations");

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

export async function openPostgres(url: string): Promise<DbHandle> {
  const { default: postgres } = await import("postgres");
  const { drizzle } = await import("drizzle-orm/postgres-js");
  const { migrate } = await import("drizzle-orm/postgres-js/migrator");
  const client = postgres(url, { max: Number(process.env.GATEHOUSE_DB_POOL ?? 10), onnotice: () => {}, connect_timeout: 10 });
  const db = drizzle(client, { schema });
  // Several processes may start together against one database: serialize migrations.
  await client.begin(async (tx) => {
    await tx`select pg_advisory_xact_lock(7347001)`;
    await migrate(db, { migrationsFolder: MIGRATIONS });
  });
  return {
    db: db as unknown as Db,
    kind: "postgres",
    query: async (text, params = []) => (await client.unsafe(text, params as never[])) as never,
    listen: async (channel, onPayload) => {
      const sub = await client.listen(channel, onPayload);
      return () => sub.unlisten();
    },
    notify: async (channel, payload) => {
      await client.notify(channel, payload);
    },
    close: () => client.end({ timeout: 5 }),
  };
}

/** Embedded PostgreSQL. dir = null → in memory (tests). */
export async function openPglite(dir: string | null): Promise<DbHandle> {
  const { PGlite } = await import("@electric-sql/pglite");
  const { drizzle } = await import("drizzle-orm/pglite");
  const { migrate } = await import("drizzle-orm/pglite/migrator");
  let releaseLock = () => {};
  if (dir) {
    fs.mkdirSync(dir, { recursive: true });
    releaseLock = acquireDataDirLock(path.dirname(dir));
  }
  try {
    const client = dir ? await PGlite.create(dir) : await PGlite.create();
    const db = drizzle(client, { schema });
    await migrate(db, { migrationsFolder: MIGRATIONS });
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
      if (holderInfo.pid && holderInfo.pid !== process.pid && isAlive(holderInfo.pid)) {
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

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
