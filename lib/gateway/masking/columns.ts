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

export interface ColumnGlob {
  /** null = any value, including unknown */
  connection: RegExp | null;
  schema: RegExp | null;
  table: RegExp | null;
  column: RegExp | null;
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
  const [connection, schema, table, column] = parts.map(globToRegExp);
  return { connection, schema, table, column };
}

function globToRegExp(glob: string): RegExp | null {
  if (glob === "*") return null;
  const body = glob
    .split("*")
    .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join(".*");
  return new RegExp(`^${body}$`, "i");
}

export function columnMatches(glob: ColumnGlob, col: ColumnRef): boolean {
  return (
    partMatches(glob.column, col.column) &&
    partMatches(glob.table, col.table) &&
    partMatches(glob.schema, col.schema) &&
    partMatches(glob.connection, col.connection)
  );
}

function partMatches(re: RegExp | null, value: string | undefined): boolean {
  return re === null || (value !== undefined && re.test(value));
}

/** The key counts are reported under: "table.column", or just "column" without a table. */
export function columnKey(col: ColumnRef): string {
  return col.table ? `${col.table}.${col.column}` : col.column;
}
