import type { ColumnMaskPlan, ColumnRef, Masker } from "@/lib/gateway/masking";
import { UNKNOWN_SOURCE } from "./column-sources";
import type { UpstreamMetadata } from "./metadata";

/**
 * The masking plans a result column gets from its sources ("table.column",
 * "schema.table.column", "table.*" as columnSourcesOfSelect writes them): each source's own
 * column rule, and, when the source is a view's column, the plans of every column that view
 * column is made of, through views over views (a view renaming `password_hash` to `secret` is
 * still masked by the rule on password_hash).
 *
 * An unqualified name may mean a relation in any schema (the client's search_path is its own):
 * every relation of that name counts, a superset. A source that names no relation the catalog
 * has, or a view whose definition cannot be followed, is OPAQUE: its field is withheld. The walk
 * is memoized per result and bounded (MAX_STEPS), so stacked views cannot stall the gateway.
 */

export interface PlanOf {
  plan: ColumnMaskPlan;
  ref: ColumnRef;
}

/** A source whose lineage cannot be followed: its field is withheld. */
export const OPAQUE = Symbol("opaque");
export type Found = PlanOf[] | typeof OPAQUE;

/** Sources visited for one result at most; beyond, the field is withheld. */
const MAX_STEPS = 1_000;

/**
 * Catalog columns that hold copies of any table's values: the planner statistics
 * (`pg_statistic.stavalues1..5`: most common values and histogram bounds, which the views
 * pg_stats / pg_stats_ext / pg_stats_ext_exprs show) and extended statistics' MCV lists and
 * expression statistics. No column rule names them, yet `SELECT most_common_vals FROM pg_stats`
 * lists a masked column's values once ANALYZE (or autovacuum) ran: they are withheld. So is the
 * SQL text of other sessions (`pg_stat_activity.query`, and pg_stat_statements' in whatever
 * schema the extension was created): its literals are the values they write or look for.
 */
export function copiesValues(schema: string | undefined, table: string, column: string): boolean {
  if (table === "pg_stat_statements") return column === "*" || column === "query";
  if (schema !== undefined && schema !== "pg_catalog") return false;
  if (table === "pg_stat_activity") return column === "*" || column === "query";
  if (table === "pg_statistic") return column === "*" || column.startsWith("stavalues");
  if (table === "pg_statistic_ext_data") return column === "*" || column === "stxdmcv" || column === "stxdexpr";
  return false;
}

export function planOf(masker: Masker, ref: ColumnRef): PlanOf[] {
  const plan = masker.columnPlan(ref);
  return plan ? [{ plan, ref }] : [];
}

/** Splits "schema.table.column" / "table.column" / "table.*" as column-sources writes them. */
export function splitSource(src: string): { table: string; column: string; schema?: string } | null {
  const parts = src.split(".");
  if (parts.length < 2) return null;
  const column = parts.pop()!;
  const table = parts.pop()!;
  return { table, column, ...(parts.length ? { schema: parts.join(".") } : {}) };
}

/**
 * The plans of a table column and of the same column of every table it inherits from or is a
 * partition of, and of every table inheriting from it or partitioning it (metadata.ts
 * `relatives`); throws when the catalog cannot be read.
 */
export async function inheritedPlanOf(masker: Masker, metadata: UpstreamMetadata | null, ref: ColumnRef, oid: number | undefined): Promise<PlanOf[]> {
  const own = planOf(masker, ref);
  if (!metadata || oid === undefined || oid === 0) return own;
  const up = await metadata.relatives(oid);
  return [...own, ...up.flatMap((a) => planOf(masker, { ...ref, schema: a.schema, table: a.table }))];
}

export class SourcePlans {
  private readonly memo = new Map<string, Promise<Found>>();
  private readonly active = new Set<string>();
  private steps = 0;

  constructor(
    private readonly masker: Masker,
    private readonly metadata: UpstreamMetadata | null,
    private readonly connection: string,
  ) {}

  /** The plans of one source; throws when the catalog cannot be read (the caller fails closed). */
  of(src: string): Promise<Found> {
    // A source met again while it is being walked (names resolved as a superset can loop back):
    // the walk under way collects its plans.
    if (this.active.has(src)) return Promise.resolve([]);
    let p = this.memo.get(src);
    if (!p) {
      this.active.add(src);
      p = this.walk(src).finally(() => this.active.delete(src));
      this.memo.set(src, p);
    }
    return p;
  }

  /** The plans of several sources; OPAQUE if any is. */
  async all(sources: readonly string[]): Promise<Found> {
    const out: PlanOf[] = [];
    for (const src of sources) {
      const found = await this.of(src);
      if (found === OPAQUE) return OPAQUE;
      for (const p of found) if (!out.some((o) => sameRef(o.ref, p.ref))) out.push(p);
    }
    return out;
  }

  private async walk(src: string): Promise<Found> {
    if (src === UNKNOWN_SOURCE) return []; // detectors only, as for any value
    const s = splitSource(src);
    if (!s) return [];
    if (copiesValues(s.schema, s.table, s.column)) return OPAQUE;
    if (!this.metadata) return s.column === "*" ? [] : planOf(this.masker, { connection: this.connection, ...s });
    if (++this.steps > MAX_STEPS) return OPAQUE;
    const relations = await this.metadata.relations({ schema: s.schema, name: s.table });
    if (relations.length === 0) return OPAQUE;
    const plans: PlanOf[] = [];
    const from: string[] = [];
    for (const r of relations) {
      // `*` is a whole row: every column; a column the relation lacks is another candidate's.
      for (const column of s.column === "*" ? r.columns : r.columns.filter((c) => c === s.column)) {
        if (copiesValues(r.schema, r.name, column)) return OPAQUE;
        plans.push(...(await inheritedPlanOf(this.masker, this.metadata, { connection: this.connection, schema: r.schema, table: r.name, column }, r.lineage ? undefined : r.oid)));
        if (r.lineage === "opaque") return OPAQUE;
        if (r.lineage) from.push(...(r.lineage.get(column) ?? []));
      }
    }
    const base = await this.all(from);
    return base === OPAQUE ? OPAQUE : [...plans, ...base];
  }
}

function sameRef(a: ColumnRef, b: ColumnRef) {
  return a.schema === b.schema && a.table === b.table && a.column === b.column;
}
