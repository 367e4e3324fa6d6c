/**
 * Column globs in masking rules.
 *
 *   "connection/schema/table/column"   all four levels, '/'-separated
 *   "schema.table.column"              any connection
 *   "table.column"                     any connection and schema
 *   "column"                           any table ("ssn", same as "*.ssn")
 *
 * Each part is a glob where '*' matches any run of characters. Matching is case-insensitive
 * because PostgreSQL folds unquoted identifiers and MySQL compares them case-insensitively on
 * most platforms; a mask must not be dodged by writing "SSN". A part that is exactly "*" also
 * matches a level the result does not know (a computed column has no table), while any other
 * part requires that level: "customers.*" does not match an expression column.
 */
import type { ColumnRef } from "./types";

/** One level's glob. */
export interface GlobPart {
  test(value: string): boolean;
}

export interface ColumnGlob {
  /** null = any value, including unknown */
  connection: GlobPart | null;
  schema: GlobPart | null;
  table: GlobPart | null;
  column: GlobPart | null;
}

const MAX_PATTERN_LENGTH = 256;

/** Parse a column pattern; returns an error message for malformed ones. */
export function parseColumnPattern(pattern: string): ColumnGlob | string {
  const p = pattern.trim();
  if (p.length === 0) return "column pattern is empty";
  if (p.length > MAX_PATTERN_LENGTH) return `column pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  let parts: string[];
  if (p.includes("/")) {
    parts = p.split("/");
    if (parts.length !== 4) return `"${p}": use connection/schema/table/column (4 parts)`;
  } else {
    parts = p.split(".");
    if (parts.length > 3) return `"${p}": use table.column or schema.table.column`;
    while (parts.length < 4) parts.unshift("*");
  }
  if (parts.some((part) => part.length === 0)) return `"${p}": empty part`;
  const [connection, schema, table, column] = parts.map(globPart);
  return { connection, schema, table, column };
}

/**
 * Matched without a regex: "*a*a*…*b" as /^.*a.*a.*…b$/ backtracks polynomially in the number
 * of stars (a member's masking preview with one 256-character glob held the process for good),
 * and V8's linear-time fallback does not take case-insensitive patterns. The pieces between the
 * stars are found leftmost-first instead, which is exact for globs whose only wildcard is '*'.
 */
function globPart(glob: string): GlobPart | null {
  if (glob === "*") return null;
  const pieces = glob.toLowerCase().split("*");
  return { test: (value) => globMatches(pieces, value.toLowerCase()) };
}

function globMatches(pieces: readonly string[], value: string): boolean {
  if (pieces.length === 1) return value === pieces[0];
  const first = pieces[0];
  const last = pieces[pieces.length - 1];
  if (value.length < first.length + last.length || !value.startsWith(first) || !value.endsWith(last)) return false;
  let from = first.length;
  const end = value.length - last.length;
  for (let i = 1; i < pieces.length - 1; i++) {
    if (!pieces[i]) continue;
    const at = value.indexOf(pieces[i], from);
    if (at < 0 || at + pieces[i].length > end) return false;
    from = at + pieces[i].length;
  }
  return true;
}

export function columnMatches(glob: ColumnGlob, col: ColumnRef): boolean {
  return (
    partMatches(glob.column, col.column) &&
    partMatches(glob.table, col.table) &&
    partMatches(glob.schema, col.schema) &&
    partMatches(glob.connection, col.connection)
  );
}

function partMatches(part: GlobPart | null, value: string | undefined): boolean {
  return part === null || (value !== undefined && part.test(value));
}

/** The key counts are reported under: "table.column", or just "column" without a table. */
export function columnKey(col: ColumnRef): string {
  return col.table ? `${col.table}.${col.column}` : col.column;
}
