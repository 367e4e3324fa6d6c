"use client";
import { revealInvisible } from "@/lib/util/reveal-invisible";
import type { LoadedSchema } from "./schema";

/** The loaded schema beside the editor: tables, their columns on opening; a click adds a name to the editor. */
export function SchemaList({ schema, onPick }: { schema: LoadedSchema; onPick(name: string): void }) {
  const qualified = (s: string, t: string) => (s === "public" ? t : `${s}.${t}`);
  return (
    <nav aria-label="Schema" className="h-40 w-64 shrink-0 overflow-auto rounded-md border border-slate-200 bg-slate-50 p-2 font-mono text-xs" data-testid="sql-schema">
      {schema.tables.length === 0 && <p className="text-slate-500">no tables visible to this connection&apos;s role</p>}
      {schema.tables.map((t) => (
        <details key={`${t.schema}.${t.table}`}>
          <summary className="cursor-pointer">
            <button type="button" className="hover:underline" onClick={() => onPick(qualified(t.schema, t.table))}>{revealInvisible(qualified(t.schema, t.table))}</button>
          </summary>
          <ul className="ml-4 text-slate-600">
            {t.columns.map((c) => (
              <li key={c}>
                <button type="button" className="hover:underline" onClick={() => onPick(c)}>{revealInvisible(c)}</button>
              </li>
            ))}
          </ul>
        </details>
      ))}
      {schema.partial && <p className="mt-1 text-amber-900">only the first columns were loaded (result limit)</p>}
    </nav>
  );
}
