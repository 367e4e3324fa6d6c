import { AsyncLocalStorage } from "node:async_hooks";
import type postgres from "postgres";

/**
 * DDL run on the database directly (another client, a migration), not through a Gatehouse, is
 * announced to nobody (catalog-changes.ts covers DDL through the gateway): a kept catalog answer
 * (metadata.ts) could name a column by its name before `RENAME COLUMN`, or follow a view's
 * definition before `CREATE OR REPLACE VIEW v AS SELECT password_hash AS login ...`, and mask a
 * result by what the catalog no longer says, for up to CACHE_TTL_MS.
 *
 * So every answer masking uses carries its Basis, read in the same query as the answer: a stamp
 * of each relation it was made from (the xmin of its pg_class row, its columns' pg_attribute rows,
 * its rewrite rules and its pg_inherits rows, which every RENAME, ADD/DROP/ALTER COLUMN, CREATE OR
 * REPLACE VIEW, ATTACH/DETACH PARTITION and INHERIT writes anew; in-place updates by VACUUM and
 * ANALYZE do not), and for a lookup by name the relations of that name. After masking a result
 * with kept answers, the bases it used are compared with the catalog in ONE query (`changedSince`,
 * index lookups per relation; results masked at the same time share one: `StampChecks`); when any
 * differs the pool forgets everything and the result is planned again (metadata.ts `checked`).
 */

export interface Basis {
  /** [relation OID, its stamp] when the answer was read; a missing relation has the stamp of nothing */
  stamps: [number, string][];
  /** an answer by name: the relations of that name then (`oids` sorted); a new one may appear */
  name?: { schema: string | null; name: string; oids: number[] };
}

/** SQL: the stamp of the relation whose OID `oid` (an SQL expression of type oid) gives; its aliases start st_. */
export const stampOf = (oid: string) => `md5(concat_ws('/',
      (select st_c.xmin::text from pg_class st_c where st_c.oid = ${oid}),
      (select string_agg(st_a.xmin::text, ',' order by st_a.attnum) from pg_attribute st_a where st_a.attrelid = ${oid} and st_a.attnum > 0),
      (select string_agg(st_w.xmin::text, ',' order by st_w.oid) from pg_rewrite st_w where st_w.ev_class = ${oid}),
      (select string_agg(st_i.xmin::text, ',' order by st_i.inhrelid, st_i.inhparent) from pg_inherits st_i where st_i.inhrelid = ${oid} or st_i.inhparent = ${oid})))`;

/** SQL: the relations a name means (metadata.ts `relations`), $name and $schema (null: any schema) being SQL expressions. */
export const relationsNamed = (name: string, schema: string) => `select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relname = ${name} and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
        and (${schema} is null or n.nspname = ${schema} or (${schema} = 'pg_temp' and n.nspname like 'pg\\_temp\\_%'))`;

const used = new AsyncLocalStorage<Set<Basis>>();

/** Notes that the work running now (inside `usedBy`) used an answer read from `basis`. */
export function noteUsed(basis: Basis | undefined) {
  if (basis) used.getStore()?.add(basis);
}

/** `work`'s answer and the bases of every kept answer it used (noteUsed). */
export async function usedBy<T>(work: () => Promise<T>): Promise<{ value: T; bases: Basis[] }> {
  const bases = new Set<Basis>();
  const value = await used.run(bases, work);
  return { value, bases: [...bases] };
}

/** Whether the catalog differs from any of `bases` now: one query. Throws when it cannot be read. */
export async function changedSince(sql: postgres.Sql, bases: readonly Basis[]): Promise<boolean> {
  const oids = [...new Set(bases.flatMap((b) => b.stamps.map(([oid]) => oid)))];
  const names = bases.flatMap((b) => (b.name ? [b.name] : []));
  const rows = await sql.unsafe<{ stamps: string[]; names: string[] }[]>(
    `select array(select ${stampOf("o.oid::oid")} from unnest($1::text[]) with ordinality o(oid, i) order by o.i) as stamps,
       array(select coalesce((select string_agg(r.oid::text, ',' order by r.oid) from (${relationsNamed("k.name", "nullif(k.schema, '')")}) r), '')
         from unnest($2::text[], $3::text[]) with ordinality k(name, schema, i) order by k.i) as names`,
    [oids.map(String), names.map((n) => n.name), names.map((n) => n.schema ?? "")],
  );
  const now = rows[0];
  if (!now || now.stamps.length !== oids.length || now.names.length !== names.length) return true;
  const stampNow = new Map(oids.map((oid, i) => [oid, now.stamps[i]]));
  return bases.some((b) => b.stamps.some(([oid, stamp]) => stampNow.get(oid) !== stamp)) || names.some((n, i) => now.names[i] !== n.oids.join(","));
}

/**
 * Checks of one pool in batches: its catalog connection is one, shared by every session of the
 * connection, so the bases of results masked while a check is under way wait for it and are then
 * checked together, in one query. A change in a batch counts for everyone in it (they all re-plan).
 */
export class StampChecks {
  private pending: { bases: Basis[]; changed: Promise<boolean> } | null = null;
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly ask: (bases: readonly Basis[]) => Promise<boolean>) {}

  changed(bases: readonly Basis[]): Promise<boolean> {
    let batch = this.pending;
    if (!batch) {
      const next: { bases: Basis[]; changed: Promise<boolean> } = { bases: [], changed: Promise.resolve(false) };
      next.changed = this.last.then(
        () => this.closeAndAsk(next),
        () => this.closeAndAsk(next),
      );
      this.last = next.changed;
      this.pending = batch = next;
    }
    batch.bases.push(...bases);
    return batch.changed;
  }

  private closeAndAsk(batch: { bases: Basis[] }): Promise<boolean> {
    if (this.pending === batch) this.pending = null;
    return this.ask(batch.bases);
  }
}
