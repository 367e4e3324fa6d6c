import type { Masker } from "@/lib/gateway/masking";
import { columnSourcesOfSelect, type OutputColumn } from "./column-sources";
import { buildFieldPlans, type FieldPlan } from "./masking";
import { fieldsOfPortal } from "./portal-formats";
import type { RelayContext, RelayOp } from "./relay";
import { parseBackendMessage, type FieldDescription, type Frame } from "./wire";

/**
 * How the relay masks a result: which columns it has, what they derive from (the statement that
 * produced it), and the plans made from both. Run once per result, on the masking path only.
 */

/** What a result's columns derive from; `opaque`: not knowable (see buildFieldPlans). */
interface Lineage {
  sources: OutputColumn[] | null;
  opaque: boolean;
}

/** Makes the column plans of the result `op` is receiving (`op.plans`). */
export async function planResult(op: RelayOp, masker: Masker, ctx: RelayContext): Promise<void> {
  let fields: FieldDescription[] | null = null;
  let lineage: Lineage = { sources: null, opaque: false };
  if (op.t === "query") {
    fields = op.fields;
    lineage = queryLineage(op, ctx);
  } else if (op.t === "execute" && op.portal) {
    fields = fieldsOfPortal(op.portal);
    const stmt = op.portal.statement;
    const only = stmt?.classification.statements.length === 1 ? stmt.classification.statements[0] : null;
    const text = only && ctx.resultText ? ctx.resultText(only) : stmt?.text;
    // Parsed `EXECUTE p` / `FETCH c` resolve through names that can be redefined: never cached.
    if (stmt && text === null) lineage = { sources: null, opaque: true };
    else if (stmt && text !== stmt.text) lineage.sources = columnSourcesOfSelect(text!);
    else if (stmt) lineage.sources = stmt.sources === undefined ? (stmt.sources = columnSourcesOfSelect(stmt.text)) : stmt.sources;
    if (op.unit && fields) op.unit.columns = fields.map((x) => x.name);
  }
  // No description at all (a portal we never saw described): every value is withheld.
  const plans = fields ? await buildFieldPlans(fields, { masker, metadata: ctx.metadata, ...lineage, connection: ctx.connection }) : [];
  (op as { plans?: FieldPlan[] | null }).plans = plans;
}

/** A CopyOutResponse of a simple Query: its columns (text, unnamed) and their plans. */
export async function planCopyOut(f: Frame, op: Extract<RelayOp, { t: "query" }>, ctx: RelayContext): Promise<void> {
  const msg = parseBackendMessage(f);
  const count = msg.type === "CopyOutResponse" ? msg.columnFormats.length : 0;
  const format = msg.type === "CopyOutResponse" ? msg.format : 0;
  const fields = Array.from({ length: count }, (_, i): FieldDescription => ({ name: `column${i + 1}`, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format }));
  op.fields = fields;
  op.plans = await buildFieldPlans(fields, { masker: op.unit.masker!, metadata: ctx.metadata, ...queryLineage(op, ctx), connection: ctx.connection });
}

/**
 * One COPY TO STDOUT text row (tab-separated fields) masked per column, detectors as the
 * backstop; null when the COPY is binary (withheld: see README).
 */
export function maskCopyRow(body: Buffer, plans: readonly FieldPlan[], masker: Masker): Buffer | null {
  if (plans.some((p) => p.binary)) return null;
  const line = body.toString("utf8");
  const nl = line.endsWith("\n") ? "\n" : "";
  const cells = (nl ? line.slice(0, -1) : line).split("\t");
  const masked = cells.map((c, i) => {
    if (c === "\\N") return c;
    let v: string | null = c;
    for (const p of plans[i]?.plans ?? []) v = v === null ? null : masker.maskValue(v, p);
    v = v === null ? "\\N" : masker.maskValue(v);
    return v ?? "\\N";
  });
  return Buffer.from(masked.join("\t") + nl, "utf8");
}

/**
 * Sources for the result (rows or COPY OUT) arriving now in a simple Query: the statement that
 * produces it is the one after those already completed. Not "the n-th statement with output
 * columns": SHOW, EXPLAIN and FETCH return rows without a derivation, PREPARE, DECLARE and
 * UPDATE without RETURNING have one without returning rows, and either would shift a later
 * SELECT's lineage onto the wrong result.
 */
function queryLineage(op: Extract<RelayOp, { t: "query" }>, ctx: RelayContext): Lineage {
  const s = op.classification.statements[op.done];
  if (!s) return { sources: null, opaque: false };
  const text = ctx.resultText ? ctx.resultText(s) : s.text;
  return text === null ? { sources: null, opaque: true } : { sources: columnSourcesOfSelect(text), opaque: false };
}
