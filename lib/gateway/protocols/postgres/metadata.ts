import postgres from "postgres";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";

/**
 * Catalog lookups masking needs: RowDescription names a column only by (table OID, attnum),
 * and `row_to_json(c)` names only a table. We ask the upstream's catalog on a SEPARATE
 * connection (postgres-js, same stored credentials), never on the client's session: a lookup
 * there would interleave with the client's protocol stream and could run inside its aborted
 * transaction. One small pool per connection, shared by its sessions, cached by OID.
 */

export interface ColumnName {
  schema: string;
  table: string;
  column: string;
}

const CACHE_LIMIT = 20_000;

export class UpstreamMetadata {
  private readonly sql: postgres.Sql;
  private readonly byAttr = new Map<string, ColumnName | null>();
  private readonly byTable = new Map<string, { schema: string; table: string; columns: string[] } | null>();

  constructor(target: UpstreamTarget) {
    const tls = target.options.tls === "require";
    this.sql = postgres({
      host: target.url.hostname,
      port: Number(target.url.port || 5432),
      database: decodeURIComponent(target.url.pathname.slice(1)) || target.username,
      username: target.username,
      password: target.secret ?? undefined,
      ssl: tls ? { rejectUnauthorized: target.options.tlsVerify === true } : false,
      max: 1,
      idle_timeout: 30,
      connect_timeout: 10,
      prepare: false,
      onnotice: () => {},
      connection: { application_name: "gatehouse-metadata" },
    });
  }

  /** Names for (oid, attnum) pairs; unknown pairs (dropped, temp, no privilege) map to null. */
  async columns(pairs: readonly { oid: number; attnum: number }[]): Promise<Map<string, ColumnName | null>> {
    const missing = [...new Set(pairs.filter((p) => !this.byAttr.has(key(p.oid, p.attnum))).map((p) => p.oid))];
    if (missing.length) {
      const rows = await this.sql<{ oid: number; nspname: string; relname: string; attnum: number; attname: string }[]>`
        select c.oid::int8::float8 as oid, n.nspname, c.relname, a.attnum::int4 as attnum, a.attname
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where c.oid = any(${missing.map(String)}::oid[]) and a.attnum > 0 and not a.attisdropped`;
      this.trim();
      for (const oid of missing) for (const p of pairs) if (p.oid === oid) this.byAttr.set(key(p.oid, p.attnum), null);
      for (const r of rows) this.byAttr.set(key(Number(r.oid), r.attnum), { schema: r.nspname, table: r.relname, column: r.attname });
    }
    const out = new Map<string, ColumnName | null>();
    for (const p of pairs) out.set(key(p.oid, p.attnum), this.byAttr.get(key(p.oid, p.attnum)) ?? null);
    return out;
  }

  /** Every column of a table named as written in SQL ("customers", "public.customers"). */
  async tableColumns(name: string): Promise<{ schema: string; table: string; columns: string[] } | null> {
    if (this.byTable.has(name)) return this.byTable.get(name)!;
    const rows = await this.sql<{ nspname: string; relname: string; attname: string }[]>`
      select n.nspname, c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass(${name}) and a.attnum > 0 and not a.attisdropped order by a.attnum`;
    this.trim();
    const hit = rows.length ? { schema: rows[0].nspname, table: rows[0].relname, columns: rows.map((r) => r.attname) } : null;
    this.byTable.set(name, hit);
    return hit;
  }

  private trim() {
    if (this.byAttr.size > CACHE_LIMIT) this.byAttr.clear();
    if (this.byTable.size > CACHE_LIMIT) this.byTable.clear();
  }

  async close() {
    await this.sql.end({ timeout: 1 }).catch(() => {});
  }
}

function key(oid: number, attnum: number) {
  return `${oid}:${attnum}`;
}

const g = globalThis as { __gatehousePgMetadata?: Map<string, UpstreamMetadata> };
const pools: Map<string, UpstreamMetadata> = (g.__gatehousePgMetadata ??= new Map());

/** One metadata pool per connection and upstream address (a changed connection gets a new one). */
export function metadataFor(target: UpstreamTarget): UpstreamMetadata {
  const id = `${target.ref.id}|${target.url.href}|${target.username}`;
  let m = pools.get(id);
  if (!m) {
    m = new UpstreamMetadata(target);
    pools.set(id, m);
  }
  return m;
}

export async function closeAllMetadata() {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((m) => m.close()));
}
