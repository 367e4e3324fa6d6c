import { identifier } from "./ast";

/**
 * Name resolution for column derivations. Without the catalog we do not know which table owns
 * an unqualified column, so lookups return every candidate (a superset): masking a column
 * because it *might* be customers.ssn is the safe error; missing it is not.
 */

export const UNKNOWN_SOURCE = "unknown";

export interface OutputColumn {
  /** the output column name PostgreSQL would report (best effort) */
  name: string;
  /** sorted: "table.column", "table.*" (every column / the whole row), or "unknown" */
  sources: string[];
  /** a `*` or `t.*` item: expands to an unknown number of result columns */
  star?: true;
}

export type Rel =
  /**
   * renamed: `FROM customers AS c(a, b)` — column names no longer say which column.
   * written: what an INSERT/UPDATE/MERGE stores into this target table; RETURNING reads the row
   * after the write, so any of its columns may hold it (`UPDATE t SET login = password_hash
   * RETURNING login`).
   */
  | { kind: "table"; name: string; renamed: boolean; written?: string[] }
  | { kind: "derived"; columns: OutputColumn[] }
  /**
   * a function in FROM, XMLTABLE, JSON_TABLE, a recursive CTE's self-reference: its columns are
   * unknown, but carry what went in (`unnest(array(SELECT ssn ...))` returns SSNs)
   */
  | { kind: "opaque"; sources?: string[] }
  /** merged: a USING or NATURAL join, whose `*` puts the merged columns first, once (see LevelRel.merged) */
  | { kind: "join"; rels: Rel[]; merged?: true };

export interface LevelRel {
  alias: string | null;
  rel: Rel;
  /** reachable only by its alias (RETURNING's old/new): not in `*`, not an unqualified candidate */
  qualifiedOnly?: true;
  /**
   * inside a USING or NATURAL join (the index of the outermost such join's first relation):
   * PostgreSQL's `*` there lists the merged columns first and once, so the columns of the
   * relations of one join cannot be told apart by position: `*` makes them one star
   */
  merged?: number;
  /** inside a join with an alias, which hides it: its columns are in `*` as the alias's */
  hidden?: true;
}

export interface Level {
  rels: LevelRel[];
  ctes: Map<string, Rel>;
  parent: Level | null;
}

export function newLevel(parent: Level | null): Level {
  return { rels: [], ctes: new Map(), parent };
}

export function findCte(level: Level | null, name: string): Rel | null {
  for (let l = level; l; l = l.parent) {
    const rel = l.ctes.get(name);
    if (rel) return rel;
  }
  return null;
}

export function wholeRow(rel: Rel): string[] {
  switch (rel.kind) {
    case "table":
      return [`${rel.name}.*`, ...(rel.written ?? [])];
    case "derived":
      return rel.columns.flatMap((c) => c.sources);
    case "opaque":
      return [UNKNOWN_SOURCE, ...(rel.sources ?? [])];
    case "join":
      return rel.rels.flatMap(wholeRow);
  }
}

/** Sources of column `col` of `rel`; null when a derived relation certainly lacks it. */
export function columnOf(rel: Rel, col: string): string[] | null {
  switch (rel.kind) {
    case "table":
      return [rel.renamed ? `${rel.name}.*` : `${rel.name}.${identifier(col)}`, ...(rel.written ?? [])];
    case "derived": {
      const named = rel.columns.filter((c) => c.name === col && !c.star);
      const stars = rel.columns.filter((c) => c.star);
      if (named.length === 0 && stars.length === 0) return null;
      return [...named, ...stars].flatMap((c) => c.sources);
    }
    case "opaque":
      return wholeRow(rel);
    case "join": {
      const parts = rel.rels.map((r) => columnOf(r, col)).filter((p): p is string[] => p !== null);
      return parts.length ? parts.flat() : null;
    }
  }
}

/** Expands `*` / `t.*` in a select list. */
export function expandStar(rel: Rel): OutputColumn[] {
  switch (rel.kind) {
    case "table":
      return [{ name: "*", sources: wholeRow(rel), star: true }];
    case "derived":
      return rel.columns.map((c) => ({ ...c, sources: [...c.sources] }));
    case "opaque":
      return [{ name: "*", sources: wholeRow(rel), star: true }];
    case "join":
      return rel.merged ? [{ name: "*", sources: wholeRow(rel), star: true }] : rel.rels.flatMap(expandStar);
  }
}

/** An unqualified `*` over a level's FROM: the relations of a USING or NATURAL join as one star. */
export function expandLevelStar(level: Level): OutputColumn[] {
  const out: OutputColumn[] = [];
  let group: number | undefined;
  for (const r of level.rels) {
    if (r.qualifiedOnly || r.hidden) continue;
    const cols = expandStar(r.rel);
    if (r.merged === undefined) out.push(...cols);
    else if (group === r.merged) out[out.length - 1].sources.push(...cols.flatMap((c) => c.sources));
    else out.push({ name: "*", sources: cols.flatMap((c) => c.sources), star: true });
    group = r.merged;
  }
  return out;
}

/** Positional renaming by an alias column list: `(SELECT ssn FROM t) AS s(x)`. */
export function renameColumns(rel: Rel, colnames: string[]): Rel {
  if (colnames.length === 0) return rel;
  if (rel.kind === "table") return { ...rel, renamed: true };
  if (rel.kind !== "derived") return rel;
  // A star hides how many columns precede a later one: positions are no longer known.
  if (rel.columns.some((c) => c.star)) return { kind: "derived", columns: [{ name: "*", sources: wholeRow(rel), star: true }] };
  return { kind: "derived", columns: rel.columns.map((c, i) => (i < colnames.length ? { ...c, name: colnames[i] } : c)) };
}

/**
 * Resolves a ColumnRef's name parts (star = it ended in `.*`) to its sources.
 *   [col]            every relation in every enclosing level that may have `col`, plus the
 *                    whole row of a relation *named* `col` (`row_to_json(c)`)
 *   [alias, col]     that relation's column; if no relation has that alias, `alias` is a
 *                    composite column and `col` a field of it
 *   [schema, t, col] the relation written as schema.t
 */
export function resolveColumnRef(parts: string[], star: boolean, level: Level): string[] {
  if (parts.length === 0) return level.rels.filter((r) => !r.qualifiedOnly).flatMap((r) => wholeRow(r.rel));
  if (parts.length === 1 && !star) {
    const col = parts[0];
    const out: string[] = [];
    for (let l: Level | null = level; l; l = l.parent) {
      for (const { alias, rel, qualifiedOnly } of l.rels) {
        if (qualifiedOnly) continue;
        out.push(...(columnOf(rel, col) ?? []));
        if (alias === col) out.push(...wholeRow(rel));
      }
    }
    return out.length ? out : [UNKNOWN_SOURCE];
  }
  const relParts = star ? parts : parts.slice(0, -1);
  const col = star ? null : parts[parts.length - 1];
  const rel = findRel(relParts, level);
  if (rel) return col === null ? wholeRow(rel) : (columnOf(rel, col) ?? [UNKNOWN_SOURCE]);
  if (relParts.length === 1) return resolveColumnRef([relParts[0]], false, level);
  // schema.t.col naming no relation we resolved: every candidate for col (or every row), as unqualified.
  return [UNKNOWN_SOURCE, ...resolveColumnRef(col === null ? [] : [col], false, level)];
}

function findRel(relParts: string[], level: Level): Rel | null {
  const wanted = relParts.map(identifier).join(".");
  const last = relParts[relParts.length - 1];
  for (let l: Level | null = level; l; l = l.parent) {
    for (const { alias, rel } of l.rels) {
      if (relParts.length === 1 && alias === relParts[0]) return rel;
      // PostgreSQL lets `public.t.col` name a `FROM t` (same relation): match the written name either way.
      if (relParts.length > 1 && rel.kind === "table" && alias === last && (rel.name === wanted || rel.name === identifier(last))) return rel;
    }
  }
  return null;
}
