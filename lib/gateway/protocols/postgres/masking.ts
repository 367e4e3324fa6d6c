import { isUtf8 } from "node:buffer";
import { REDACTED, type ColumnMaskPlan, type ColumnRef, type Masker } from "@/lib/gateway/masking";
import type { OutputColumn } from "./column-sources";
import { ProtocolError, type FieldDescription } from "./wire";
import type { ColumnName, UpstreamMetadata } from "./metadata";
import { copiesValues, inheritedPlanOf, OPAQUE, SourcePlans } from "./source-plans";

/**
 * Masking of result sets. A RowDescription names plain table columns by (table OID, attnum);
 * expressions (tableOid 0: `upper(email)`, `encode(ssn::bytea,'hex')`, `row_to_json(c)`) carry
 * no origin, so their sources come from columnSourcesOfSelect(statement text). A column
 * derived from a column whose rule masks whole values is masked whole (a transformed SSN is
 * still an SSN); detectors run on every text value as the backstop.
 */

export interface FieldPlan {
  /** plans applied in order; an empty list still runs the detector backstop */
  plans: ColumnMaskPlan[];
  /** the column each plan was made for (`Masker.columnPlan`), so another thread can remake them */
  refs?: ColumnRef[];
  /**
   * withheld (sent as NULL): a binary-format value, which cannot be masked as text, or one whose
   * lineage cannot be known (no table origin, from a result whose derivation is opaque)
   */
  binary: boolean;
  label: string;
  /**
   * a bytea in text format ("\\x616c…"): the detectors read the bytes, not their hex; a value
   * they mask goes out as the hex of the masked bytes (still a valid bytea)
   */
  bytea?: boolean;
}

/**
 * Aligns output-column sources with RowDescription fields. Without stars the lists match by
 * position; a star expands to an unknown number of fields, so fields before the first star
 * align from the start and fields after the last star from the end (columns inside a star
 * carry their table OID, which is preferred anyway).
 */
export function alignSources(fieldCount: number, sources: readonly OutputColumn[] | null): (string[] | null)[] {
  const out: (string[] | null)[] = new Array(fieldCount).fill(null);
  if (!sources) return out;
  const firstStar = sources.findIndex((s) => s.star);
  if (firstStar < 0) {
    if (sources.length !== fieldCount) return out;
    return sources.map((s) => s.sources);
  }
  for (let i = 0; i < firstStar && i < fieldCount; i++) out[i] = sources[i].sources;
  let lastStar = -1;
  sources.forEach((s, i) => s.star && (lastStar = i));
  const tail = sources.length - 1 - lastStar;
  for (let k = 1; k <= tail && fieldCount - k >= firstStar; k++) out[fieldCount - k] = sources[sources.length - k].sources;
  return out;
}

/**
 * The plans of a result's fields. Fails closed: when the upstream catalog cannot be read (and
 * nothing read before can stand in), a ProtocolError ends the session rather than let the
 * result through with detectors alone.
 */
export async function buildFieldPlans(fields: readonly FieldDescription[], ctx: PlanContext): Promise<FieldPlan[]> {
  try {
    return await plansOf(fields, ctx);
  } catch (err) {
    throw unmaskableResult(ctx.connection, err);
  }
}

/** The error that ends a session whose result cannot be masked for want of the catalog. */
export function unmaskableResult(connection: string, err: unknown): ProtocolError {
  if (err instanceof ProtocolError) return err;
  console.warn(`[postgres] masking metadata unavailable on ${connection}: ${(err as Error).message}`);
  return new ProtocolError(`gatehouse: this result cannot be masked: the upstream catalog could not be read (${(err as Error).message})`, "58000");
}

interface PlanContext {
  masker: Masker;
  metadata: UpstreamMetadata | null;
  sources: readonly OutputColumn[] | null;
  connection: string;
  opaque?: boolean;
}

async function plansOf(fields: readonly FieldDescription[], ctx: PlanContext): Promise<FieldPlan[]> {
  const { masker, metadata, connection } = ctx;
  const tableCols = fields.filter((f) => f.tableOid !== 0 && f.columnAttr > 0).map((f) => ({ oid: f.tableOid, attnum: f.columnAttr }));
  const names = tableCols.length && metadata ? await metadata.columns(tableCols) : new Map<string, ColumnName | null>();
  const walk = new SourcePlans(masker, metadata, connection);
  const aligned = alignSources(fields.length, ctx.sources);
  // A field no derivation aligns with and without a table origin (inside a `*`: a FULL JOIN
  // USING column is a COALESCE) may carry any source of the statement: all of them apply.
  const every = ctx.sources ? [...new Set(ctx.sources.flatMap((s) => s.sources))] : [];
  // A table star's field has its own table origin, but the star may carry more than the stored
  // row: RETURNING * after `SET login = password_hash` (scope.ts `written`). Those sources apply
  // to every field a star covers.
  const starExtra = [...new Set((ctx.sources ?? []).filter((s) => s.star && s.sources.some((x) => x.endsWith(".*"))).flatMap((s) => s.sources.filter((x) => !x.endsWith(".*"))))];
  const plans: FieldPlan[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    const named = f.tableOid !== 0 ? names.get(`${f.tableOid}:${f.columnAttr}`) : null;
    // A table column has its own rule; a view's column is walked to what it is made of.
    const own = named && !named.view ? await inheritedPlanOf(masker, metadata, { connection, schema: named.schema, table: named.table, column: named.column }, f.tableOid) : [];
    const found = await walk.all([...(named?.view ? [`${named.schema}.${named.table}.${named.column}`] : []), ...(aligned[i] ?? (f.tableOid === 0 ? every : starExtra))]);
    const chosen = wholeFirst(found === OPAQUE ? own : [...own, ...found]);
    // Withheld: binary values, and a field whose lineage cannot be known — without a table
    // origin in an opaque result (a FETCH from a cursor the gateway never saw declared), or made
    // from something the catalog cannot explain (a view it cannot follow, an unknown relation).
    const withheld = f.format === 1 || (ctx.opaque === true && f.tableOid === 0) || found === OPAQUE || (named !== null && named !== undefined && copiesValues(named.schema, named.table, named.column));
    plans.push({ plans: chosen.map((x) => x.plan), refs: chosen.map((x) => x.ref), binary: withheld, label: named ? `${named.table}.${named.column}` : f.name, bytea: f.typeOid === BYTEA_OID });
  }
  return plans;
}

const BYTEA_OID = 17;

/** The bytes of a redacted cell, shared: a DataRow is built by copying its values. */
const REDACTED_BYTES = Buffer.from(REDACTED, "utf8");

/** A whole-value plan first: once it replaced the value, the rest has nothing left to find. */
export function wholeFirst<T extends { plan: ColumnMaskPlan }>(list: T[]): T[] {
  const whole = list.find((p) => p.plan.masksWholeValue);
  return whole ? [whole] : list;
}

/** maskCell's answer for a value masking leaves as it is (forwarded byte for byte). */
export const UNCHANGED: unique symbol = Symbol("unchanged");

/** Masks one DataRow's values; returns null when nothing changed (forward the raw frame). */
export function maskRow(values: readonly (Buffer | null)[], plans: readonly FieldPlan[], masker: Masker): { values: (Buffer | null)[]; masked: number } | null {
  let out: (Buffer | null)[] | null = null;
  let masked = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) continue;
    const m = maskCell(v, 0, v.length, plans[i], masker);
    if (m === UNCHANGED) continue;
    out ??= values.slice();
    out[i] = m === null ? null : m === REDACTED ? REDACTED_BYTES : Buffer.from(m, "utf8");
    masked++;
  }
  return out ? { values: out, masked } : null;
}

/**
 * What masking makes of one non-NULL value, the bytes [start, end) of `bytes` (read in place, so
 * the row path need not cut a view per value): the text to send, null (sent as SQL NULL), or
 * UNCHANGED. maskRow and the masked-row writer (row-writer.ts) both mask through here.
 */
export function maskCell(bytes: Buffer, start: number, end: number, plan: FieldPlan | undefined, masker: Masker): string | null | typeof UNCHANGED {
  // binary (or undescribed) value under a masker: withheld, never guessed at
  if (!plan || plan.binary) return null;
  // A whole-value redaction or NULL does not depend on the value: it is not decoded.
  const raw = plan.plans[0]?.replacement !== undefined ? "" : bytes.toString("utf8", start, end);
  // `select convert_to(email, 'UTF8')` answers "\x616c69…": the detectors read the bytes,
  // as UTF-8 when they are, else as latin1 (one character per byte): either way the bytes
  // outside the matches go back unchanged.
  const hex = plan.bytea === true && !plan.plans[0]?.masksWholeValue && raw.startsWith("\\x");
  const decoded = hex ? Buffer.from(raw.slice(2), "hex") : null;
  const encoding = decoded && isUtf8(decoded) ? "utf8" : "latin1";
  const text = decoded ? decoded.toString(encoding) : raw;
  let m: string | null = text;
  for (const p of plan.plans) {
    if (m === null) break;
    m = masker.maskValue(m, p);
  }
  // The detector backstop, except after a whole-value rule (alone in its list, wholeFirst):
  // what that rule left (a redaction, a hash token, the last digits) is no longer the data.
  // Nor for a value the plans scanned and left as it was: a column plan's scan includes every
  // text-wide detector and pattern (Masker.columnPlan), so the backstop would find nothing.
  if (m !== null && !plan.plans[0]?.masksWholeValue && (m !== text || plan.plans.length === 0)) m = masker.maskValue(m);
  if (m === text) return UNCHANGED;
  if (hex && m !== null) m = "\\x" + Buffer.from(m, encoding).toString("hex");
  return m;
}
