/**
 * The connection pool to a PostgreSQL store (GATEHOUSE_DB_POOL). Migrating at start holds one
 * connection for the migration lock (migrate-postgres.ts) while the migrations run on another:
 * with a pool of one the start waited for itself forever, silently. So the size is checked
 * before anything connects, and a start with a size that cannot work stops with the setting named.
 */
export const MIN_DB_POOL = 2;
const DEFAULT_DB_POOL = 10;

export function dbPoolSize(value = process.env.GATEHOUSE_DB_POOL): number {
  if (value === undefined || value.trim() === "") return DEFAULT_DB_POOL;
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < MIN_DB_POOL) {
    throw new Error(`GATEHOUSE_DB_POOL must be a whole number of connections, at least ${MIN_DB_POOL} (one holds the migration lock while another migrates), not ${JSON.stringify(value)}`);
  }
  return n;
}
