import type { ClassifiedRequest } from "@/lib/gateway/core/types";
import { identifier } from "./classify/ast";
import type { RelationInfo } from "./metadata";
import { classifySql } from "./classify";

/**
 * The tables policy sees (`context.request.tables`), completed from the upstream's catalog.
 *
 * The classifier reports names as written: `secrets`, `public.secrets`, `"public"."secrets"` (→
 * `public.secrets`), a view over secrets (→ the view's name). A policy written as
 * `context.request.tables.contains("secrets")` was dodged by each spelling but the first, and by
 * any view: the statement read public.secrets all the same. So every name is looked up, and
 * every relation it may mean (metadata.ts `relations`: exactly schema.name when qualified, that
 * name in every schema when not, since the session may have SET its search_path) adds itself
 * both bare and schema-qualified, and a view or materialized view adds, the same way, every
 * relation its definition names, through views over views. The result is a superset: a policy
 * naming `secrets` bare matches a table named secrets in any schema (to mean one schema's, name
 * it qualified: `public.secrets`). Code written in the database (a function reading a table)
 * names no table here; it makes the statement `unknown` (user-code.ts).
 *
 * Throws when the catalog cannot be read, or a view's definition cannot be followed: the caller
 * takes the statement as unknown (fail closed).
 */
export async function catalogTables(tables: readonly string[], relations: (ref: { schema?: string; name: string }) => Promise<RelationInfo[]>): Promise<string[]> {
  const out = new Set(tables);
  const seen = new Set<string>();
  const queue = tables.map(parseTableName);
  for (let lookups = 0; queue.length; ) {
    const ref = queue.shift()!;
    const key = `${ref.schema ?? ""}\u0000${ref.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (++lookups > MAX_LOOKUPS) throw new Error(`more than ${MAX_LOOKUPS} relations to follow`);
    for (const r of await relations(ref)) {
      out.add(identifier(r.name));
      out.add(`${identifier(r.schema)}.${identifier(r.name)}`);
      if (r.definition !== undefined) queue.push(...readsOf(r));
    }
  }
  return [...out].sort();
}

/**
 * What a view's definition names, parsed once per catalog answer: metadata.ts hands out the same
 * RelationInfo objects while it keeps an answer, so a statement on a view does not parse the
 * view's definition again every time.
 */
const viewReads = new WeakMap<RelationInfo, { schema?: string; name: string }[]>();
function readsOf(r: RelationInfo): { schema?: string; name: string }[] {
  let refs = viewReads.get(r);
  if (!refs) {
    const c = classifySql(r.definition!);
    if (c.parseError !== undefined) throw new Error(`the definition of view ${r.schema}.${r.name} cannot be followed`);
    viewReads.set(r, (refs = c.tables.map(parseTableName)));
  }
  return refs;
}

/** Views over views are followed this far; a deeper (or cyclic-looking) chain is not guessed at. */
const MAX_LOOKUPS = 200;

/**
 * Only what the text says: a qualified name adds its bare name. For a serial upstream (the
 * embedded demo) whose catalog did not answer: inside the client's own transaction it cannot
 * until that ends, and any relation created since the session's start (metadata.ts `warm`) was
 * created by this client, through the gateway, by DDL that was itself decided with the tables it
 * reads.
 */
export function writtenTables(tables: readonly string[]): string[] {
  const out = new Set(tables);
  for (const t of tables) out.add(identifier(parseTableName(t).name));
  return [...out].sort();
}

/** `req` with its tables completed from the catalog (catalogTables). Throws like it. */
export async function withCatalogTables(req: ClassifiedRequest, relations: (ref: { schema?: string; name: string }) => Promise<RelationInfo[]>): Promise<ClassifiedRequest> {
  if (req.tables.length === 0) return req;
  const tables = await catalogTables(req.tables, relations);
  return tables.length === req.tables.length ? req : { ...req, tables };
}

/**
 * A name as the classifier writes it (classify/ast.ts `rangeVarName`: parts joined by `.`, a part
 * containing `.` or `"` in double quotes with `""` inside) back into schema and name. A
 * three-part name's database is dropped: PostgreSQL only accepts the current one.
 */
export function parseTableName(text: string): { schema?: string; name: string } {
  const parts: string[] = [];
  let i = 0;
  while (i <= text.length) {
    let part = "";
    if (text[i] === '"') {
      i++;
      for (; i < text.length; i++) {
        if (text[i] === '"') {
          if (text[i + 1] !== '"') break;
          i++;
        }
        part += text[i];
      }
      i++; // the closing quote
    } else {
      const end = text.indexOf(".", i);
      part = text.slice(i, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end;
    }
    parts.push(part);
    if (text[i] !== ".") break;
    i++;
  }
  const name = parts[parts.length - 1] ?? text;
  return parts.length > 1 ? { schema: parts[parts.length - 2], name } : { name };
}
