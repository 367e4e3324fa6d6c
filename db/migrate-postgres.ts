import { readMigrationFiles } from "drizzle-orm/migrator";
import { migrate } from "drizzle-orm/postgres-js/migrator";
import type { PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { Sql } from "postgres";

/** Any lock id works as long as every Gatehouse that migrates this database uses the same one. */
const MIGRATION_LOCK = 7347001;

/**
 * Migrates a PostgreSQL store at start. Several processes may start together against one
 * database: one migrates at a time. Index-only migrations on an existing store are applied first,
 * built concurrently (below); drizzle's migrator applies the rest.
 */
export async function migratePostgresStore(client: Sql, db: PostgresJsDatabase<Record<string, unknown>>, migrationsFolder: string): Promise<void> {
  const lock = await client.reserve();
  try {
    // Polled, never waited for inside the database: a start waiting in pg_advisory_lock holds a
    // snapshot, and the concurrent index build of the start holding the lock waits for every older
    // snapshot to go; each would wait for the other, unseen by PostgreSQL's deadlock detector.
    // (For the same reason the lock is a session lock, held outside any transaction.)
    while (!(await lock`select pg_try_advisory_lock(${MIGRATION_LOCK}) as got`)[0].got) await new Promise((r) => setTimeout(r, 250));
    try {
      await applyIndexMigrationsConcurrently(client, migrationsFolder);
      await migrate(db, { migrationsFolder });
    } finally {
      await lock`select pg_advisory_unlock(${MIGRATION_LOCK})`;
    }
  } finally {
    lock.release();
  }
}

/** A statement drizzle-kit writes for an index: `CREATE [UNIQUE] INDEX "name" ON "table" ...;` */
const CREATE_INDEX = /^CREATE\s+(UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?"([^"]+)"\s+ON\s+(.+?);?$/is;

/**
 * Migrations that only add indexes, applied to an existing PostgreSQL store before drizzle's
 * migrator runs: each index is built CONCURRENTLY, then the migration is recorded exactly as
 * drizzle records it (hash, folder time), so the migrator skips it.
 *
 * Why: drizzle runs every pending migration in one transaction, and a plain CREATE INDEX holds a
 * SHARE lock on its table for the whole build. On a large store, at the first start of a new
 * version, that stopped every other process on the database from writing to the table meanwhile:
 * recordings (session_events) and every audited change (audit_log) waited, for as long as the
 * build took. Built concurrently, the table stays writable.
 *
 * Only the pending migrations from the oldest on, up to the first that is not index-only: the rest
 * go to drizzle in order, as ever. A new store (no migration applied yet) is left to drizzle: its
 * tables are empty. An index a killed or failed build left INVALID is dropped and built again; a
 * build that fails stops the start (the migrator would otherwise build it the blocking way).
 * Under the migration lock, so processes starting together build each index once.
 */
async function applyIndexMigrationsConcurrently(client: Sql, migrationsFolder: string): Promise<string[]> {
  const last = await lastApplied(client);
  if (last === null) return [];
  const built: string[] = [];
  for (const migration of readMigrationFiles({ migrationsFolder })) {
    if (migration.folderMillis <= last) continue;
    const statements = migration.sql.map((s) => s.trim()).filter(Boolean);
    const indexes = statements.map((s) => CREATE_INDEX.exec(s));
    if (!indexes.length || indexes.some((m) => !m)) break;
    for (const m of indexes) {
      const [, unique, name, rest] = m!;
      await buildConcurrently(client, name, Boolean(unique), rest);
      built.push(name);
    }
    await client`insert into drizzle.__drizzle_migrations (hash, created_at) values (${migration.hash}, ${migration.folderMillis})`;
  }
  return built;
}

/** The folder time of the newest migration applied, as drizzle's migrator reads it; null on a new store. */
async function lastApplied(client: Sql): Promise<number | null> {
  const [{ table }] = await client`select to_regclass('drizzle.__drizzle_migrations')::text as table`;
  if (!table) return null;
  const [{ last }] = await client`select max(created_at)::text as last from drizzle.__drizzle_migrations`;
  return last === null ? null : Number(last);
}

async function buildConcurrently(client: Sql, name: string, unique: boolean, rest: string): Promise<void> {
  const [existing] = await client`
    select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid
    where c.relname = ${name} and pg_catalog.pg_table_is_visible(c.oid)`;
  if (existing?.valid) return;
  if (existing) await client.unsafe(`DROP INDEX CONCURRENTLY "${name}"`);
  const t0 = performance.now();
  await client.unsafe(`CREATE ${unique ? "UNIQUE " : ""}INDEX CONCURRENTLY "${name}" ON ${rest}`);
  console.log(`[gatehouse] index ${name} built concurrently in ${Math.round(performance.now() - t0)} ms`);
}
