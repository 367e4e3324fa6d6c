/**
 * Helpers over libpg-query's JSON parse tree. The tree mixes two shapes: fields typed as a
 * generic Node hold a wrapper `{ "SelectStmt": {...} }`, while fields with a concrete type
 * (`relation: RangeVar`, `withClause: WithClause`) hold the bare object. Protobuf-JSON also
 * omits zero values: `{ "Integer": {} }` is 0 and a missing boolean is false.
 */

export type AstObject = Record<string, unknown>;

export function isObject(v: unknown): v is AstObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** `{ "SelectStmt": {...} }` → ["SelectStmt", {...}]; anything else → null. */
export function unwrap(node: unknown): [string, AstObject] | null {
  if (!isObject(node)) return null;
  const keys = Object.keys(node);
  if (keys.length !== 1) return null;
  const inner = node[keys[0]];
  return isObject(inner) ? [keys[0], inner] : null;
}

export function asArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** The sval of a `{ String: { sval } }` node ("" for an empty string, which protobuf omits). */
export function stringValue(node: unknown): string | undefined {
  const u = unwrap(node);
  if (!u || u[0] !== "String") return undefined;
  return str(u[1].sval) ?? "";
}

/**
 * An identifier as it should appear in `tables` / `functions`: the parser already folded
 * unquoted names to lower case and kept quoted ones verbatim. A name that contains a dot or a
 * quote is re-quoted so "a.b" (one quoted name) never reads as schema a, table b.
 */
export function identifier(name: string): string {
  return /[."]/.test(name) ? `"${name.replace(/"/g, '""')}"` : name;
}

/** A dotted name from a list of String nodes (`funcname`, `DropStmt` objects). */
export function dottedName(parts: unknown): string | null {
  const names: string[] = [];
  for (const p of asArray(parts)) {
    const s = stringValue(p);
    if (s === undefined) return null;
    names.push(identifier(s));
  }
  return names.length ? names.join(".") : null;
}

/** A RangeVar is the only node with a string `relname`. */
export function isRangeVar(o: AstObject): boolean {
  return typeof o.relname === "string";
}

export function rangeVarName(rv: AstObject): string {
  return [str(rv.catalogname), str(rv.schemaname), str(rv.relname)]
    .filter((p): p is string => p !== undefined && p !== "")
    .map(identifier)
    .join(".");
}

/** Last part of a function name, lower-cased: what deny-list rules match on. */
export function baseFunctionName(funcname: unknown): string | null {
  const parts = asArray(funcname);
  const last = stringValue(parts[parts.length - 1]);
  return last === undefined ? null : last.toLowerCase();
}

/**
 * defGetBoolean semantics for a DefElem argument (EXPLAIN (ANALYZE x)): absent means true;
 * only 0, false and off are false (what PostgreSQL's defGetBoolean accepts). Anything unrecognized counts as true — the safe reading
 * for "does this EXPLAIN execute the statement?".
 */
export function defElemIsTrue(defElem: AstObject): boolean {
  const arg = unwrap(defElem.arg);
  if (!arg) return true;
  const [type, v] = arg;
  if (type === "Integer") return (v.ival ?? 0) !== 0;
  if (type === "Boolean") return v.boolval === true;
  if (type === "String") {
    const s = (str(v.sval) ?? "").toLowerCase();
    return !(s === "false" || s === "off");
  }
  return true;
}

/** Finds a DefElem by name in an options list. */
export function findDefElem(options: unknown, name: string): AstObject | null {
  for (const o of asArray(options)) {
    const u = unwrap(o);
    if (u && u[0] === "DefElem" && u[1].defname === name) return u[1];
  }
  return null;
}
