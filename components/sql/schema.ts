import type { SQLNamespace } from "@codemirror/lang-sql";
import type { ResultSet } from "@/lib/sql-console/console";

/**
 * What the editor completes, read through the gateway like any statement the user runs (so
 * policy decides it, it is recorded, and it shows in the console's list): the columns the
 * upstream role can see, outside the system schemas. The console keeps at most MAX_ROWS rows of
 * a result, so a very large schema completes in part, and says so.
 */
export const SCHEMA_SQL = `select table_schema, table_name, column_name
from information_schema.columns
where table_schema not in ('pg_catalog', 'information_schema')
order by table_schema, table_name, ordinal_position`;

export interface LoadedSchema {
  namespace: SQLNamespace;
  /** schema → table → columns, in the catalog's order */
  tables: { schema: string; table: string; columns: string[] }[];
  partial: boolean;
}

export function schemaOf(set: ResultSet | undefined): LoadedSchema | null {
  if (!set || set.columns.join() !== "table_schema,table_name,column_name") return null;
  const tables = new Map<string, { schema: string; table: string; columns: string[] }>();
  for (const [schema, table, column] of set.rows) {
    if (schema === null || table === null || column === null) continue;
    const key = JSON.stringify([schema, table]);
    const entry = tables.get(key) ?? tables.set(key, { schema, table, columns: [] }).get(key)!;
    entry.columns.push(column);
  }
  const namespace: Record<string, Record<string, string[]>> = {};
  for (const t of tables.values()) (namespace[t.schema] ??= {})[t.table] = t.columns;
  return { namespace, tables: [...tables.values()], partial: set.truncated };
}
