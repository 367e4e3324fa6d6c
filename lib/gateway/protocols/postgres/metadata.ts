import postgres from "postgres";
import type { UpstreamTarget } from "@/lib/gateway/core/upstream";
import { columnSourcesOfSelect } from "./column-sources";

/**
 * Catalog lookups masking needs: RowDescription names a column only by (table OID, attnum),
 * `row_to_json(c)` names only a table, and a view's column is masked as the columns it is made
 * of. We ask the upstream's catalog on a SEPARATE connection (postgres-js, same stored
 * credentials), never on the client's session: a lookup there would interleave with the
 * client's protocol stream and could run inside its aborted transaction. One small pool per
 * connection, shared by its sessions; answers are kept for CACHE_TTL_MS, so a column renamed
 * or a view replaced elsewhere is seen within that time.
 */

export interface ColumnName {
  schema: string;
  table: string;
  column: string;
  /** a view or materialized view: its columns are masked as what they are made of (viewLineage) */
  view?: boolean;
}

/**
 * For each column of a view, the columns it is computed from ("table.column", "table.*",
 * UNKNOWN_SOURCE), as columnSourcesOfSelect finds them in the view's definition; names are as
 * the definition prints them for this metadata connection, so they resolve here. "opaque": the
 * definition could not be followed (its columns may be anything).
 */
export type ViewLineage = { schema: string; view: string; columns: Map<string, string[]> } | "opaque";

const CACHE_LIMIT = 20_000;
const CACHE_TTL_MS = 30_000;

interface Kept<T> {
  at: number;
  value: T;
}

export class UpstreamMetadata {
  private readonly sql: postgres.Sql;
  private readonly byAttr = new Map<string, Kept<ColumnName | null>>();
  private readonly byTable = new Map<string, Kept<{ schema: string; table: string; columns: string[] } | null>>();
  private readonly byView = new Map<string, Kept<ViewLineage | null>>();

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
    const now = Date.now();
    const missing = [...new Set(pairs.filter((p) => !fresh(this.byAttr.get(key(p.oid, p.attnum)), now)).map((p) => p.oid))];
    if (missing.length) {
      const rows = await this.sql<{ oid: number; nspname: string; relname: string; relkind: string; attnum: number; attname: string }[]>`
        select c.oid::int8::float8 as oid, n.nspname, c.relname, c.relkind::text as relkind, a.attnum::int4 as attnum, a.attname
        from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
        where c.oid = any(${missing.map(String)}::oid[]) and a.attnum > 0 and not a.attisdropped`;
      this.trim();
      for (const oid of missing) for (const p of pairs) if (p.oid === oid) this.byAttr.set(key(p.oid, p.attnum), { at: now, value: null });
      for (const r of rows) {
        const name: ColumnName = { schema: r.nspname, table: r.relname, column: r.attname, ...(isView(r.relkind) ? { view: true } : {}) };
        this.byAttr.set(key(Number(r.oid), r.attnum), { at: now, value: name });
      }
    }
    const out = new Map<string, ColumnName | null>();
    for (const p of pairs) out.set(key(p.oid, p.attnum), this.byAttr.get(key(p.oid, p.attnum))?.value ?? null);
    return out;
  }

  /** Every column of a table named as written in SQL ("customers", "public.customers"). */
  async tableColumns(name: string): Promise<{ schema: string; table: string; columns: string[] } | null> {
    const kept = this.byTable.get(name);
    if (fresh(kept, Date.now())) return kept!.value;
    const rows = await this.sql<{ nspname: string; relname: string; attname: string }[]>`
      select n.nspname, c.relname, a.attname from pg_attribute a join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass(${name}) and a.attnum > 0 and not a.attisdropped order by a.attnum`;
    this.trim();
    const hit = rows.length ? { schema: rows[0].nspname, table: rows[0].relname, columns: rows.map((r) => r.attname) } : null;
    this.byTable.set(name, { at: Date.now(), value: hit });
    return hit;
  }

  /**
   * The lineage of a relation named as written ("v", "vault.keys") when it is a view or a
   * materialized view; null when it is not one (a table, or nothing this connection can see).
   */
  async viewLineage(name: string): Promise<ViewLineage | null> {
    const kept = this.byView.get(name);
    if (fresh(kept, Date.now())) return kept!.value;
    const rows = await this.sql<{ nspname: string; relname: string; definition: string | null; columns: string[] }[]>`
      select n.nspname, c.relname, pg_get_viewdef(c.oid) as definition,
        array(select a.attname::text from pg_attribute a where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped order by a.attnum) as columns
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.oid = to_regclass(${name}) and c.relkind in ('v', 'm')`;
    this.trim();
    const lineage = rows.length ? lineageOf(rows[0]) : null;
    this.byView.set(name, { at: Date.now(), value: lineage });
    return lineage;
  }

  private trim() {
    for (const cache of [this.byAttr, this.byTable, this.byView]) if (cache.size > CACHE_LIMIT) cache.clear();
  }

  async close() {
    await this.sql.end({ timeout: 1 }).catch(() => {});
  }
}

function key(oid: number, attnum: number) {
  return `${oid}:${attnum}`;
}

function fresh<T>(kept: Kept<T> | undefined, now: number): boolean {
  return kept !== undefined && now - kept.at < CACHE_TTL_MS;
}

/** relkind: v = view, m = materialized view */
function isView(relkind: string) {
  return relkind === "v" || relkind === "m";
}

/** A view's definition, as pg_get_viewdef prints it, has one output column per view column. */
function lineageOf(row: { nspname: string; relname: string; definition: string | null; columns: string[] }): ViewLineage {
  const outputs = row.definition ? columnSourcesOfSelect(row.definition) : null;
  if (!outputs || outputs.length !== row.columns.length || outputs.some((o) => o.star)) return "opaque";
  return { schema: row.nspname, view: row.relname, columns: new Map(row.columns.map((c, i) => [c, outputs[i].sources])) };
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
