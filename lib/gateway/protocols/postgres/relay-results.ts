import type { Masker } from "@/lib/gateway/masking";
import { identifier } from "./classify/ast";
import { ANALYSIS_FAILED, columnSourcesOrFailure, type OutputColumn } from "./column-sources";
import { copyFormatOf, maskCopyText } from "./copy-rows";
import { buildFieldPlans, unmaskableResult, type FieldPlan } from "./masking";
import { fieldsOfPortal } from "./portal-formats";
import { splitSource } from "./source-plans";
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
    else if (stmt && text !== stmt.text) lineage = lineageOf(text!);
    else if (stmt && stmt.sources !== undefined) lineage.sources = stmt.sources;
    else if (stmt) {
      lineage = lineageOf(stmt.text);
      if (!lineage.opaque) stmt.sources = lineage.sources; // a failed analysis is not cached: it withholds
    }
    if (op.unit && fields) op.unit.columns = fields.map((x) => x.name);
  }
  // No description at all (a portal we never saw described): every value is withheld.
  const plans = fields ? await checked(ctx, () => buildFieldPlans(fields, { masker, metadata: ctx.metadata, ...lineage, connection: ctx.connection })) : [];
  (op as { plans?: FieldPlan[] | null }).plans = plans;
}

/**
 * `work` (planning a result with the catalog's answers), once the answers it used are known to
 * be the catalog's now (metadata.ts `checked`: DDL run directly on the database); fails closed.
 */
async function checked<T>(ctx: RelayContext, work: () => Promise<T>): Promise<T> {
  if (!ctx.metadata) return work();
  try {
    return await ctx.metadata.checked(work);
  } catch (err) {
    throw unmaskableResult(ctx.connection, err);
  }
}

/**
 * A CopyOutResponse of a simple Query: its columns (text, unnamed), their plans, and the row
 * format the COPY statement asked for (copy-rows.ts; null: its rows are withheld).
 */
export async function planCopyOut(f: Frame, op: Extract<RelayOp, { t: "query" }>, ctx: RelayContext): Promise<void> {
  const msg = parseBackendMessage(f);
  const count = msg.type === "CopyOutResponse" ? msg.columnFormats.length : 0;
  const format = msg.type === "CopyOutResponse" ? msg.format : 0;
  const fields = Array.from({ length: count }, (_, i): FieldDescription => ({ name: `column${i + 1}`, tableOid: 0, columnAttr: 0, typeOid: 25, typeSize: -1, typeMod: -1, format }));
  op.fields = fields;
  const lineage = queryLineage(op, ctx);
  op.plans = await checked(ctx, async () => {
    const sources = await spreadStar(lineage.sources, count, ctx);
    return buildFieldPlans(fields, { masker: op.unit.masker!, metadata: ctx.metadata, ...lineage, sources, connection: ctx.connection });
  });
  const s = op.classification.statements[op.done];
  op.copyFormat = format === 0 && s ? copyFormatOf(s.text) : null;
  op.copyRows = 0;
}

/**
 * `COPY t TO STDOUT` (or `SELECT *` of one table) is one star: COPY OUT names no columns, so each
 * column would get the plans of every column of t. When the catalog knows exactly one such
 * relation with that many columns, the star becomes its columns, in order.
 */
async function spreadStar(sources: OutputColumn[] | null, count: number, ctx: RelayContext): Promise<OutputColumn[] | null> {
  const star = sources?.length === 1 && sources[0].star && sources[0].sources.length === 1 ? sources[0].sources[0] : null;
  const s = star?.endsWith(".*") ? splitSource(star) : null;
  if (!s || !ctx.metadata) return sources;
  // A catalog failure leaves the star: buildFieldPlans then fails closed on its own lookups.
  const rels = await ctx.metadata.relations({ schema: s.schema, name: s.table }).catch(() => []);
  if (rels.length !== 1 || rels[0].columns.length !== count) return sources;
  const prefix = star!.slice(0, -1);
  return rels[0].columns.map((c) => ({ name: c, sources: [prefix + identifier(c)] }));
}

/**
 * One COPY TO STDOUT row (one CopyData) masked per column, detectors as the backstop; null when
 * it is withheld (binary COPY, a format the gateway cannot read: see copy-rows.ts). A header
 * row holds the column names.
 */
export function maskCopyRow(body: Buffer, op: Extract<RelayOp, { t: "query" }>, masker: Masker): Buffer | null {
  const plans = op.plans ?? [];
  const f = op.copyFormat;
  if (!f || plans.some((p) => p.binary)) return null;
  const row = op.copyRows ?? 0;
  op.copyRows = row + 1;
  const line = body.toString("utf8");
  const nl = line.endsWith("\n") ? "\n" : "";
  const text = nl ? line.slice(0, -1) : line;
  return Buffer.from((row === 0 && f.header ? masker.maskText(text) : maskCopyText(text, plans, masker, f)) + nl, "utf8");
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
  return text === null ? { sources: null, opaque: true } : lineageOf(text);
}

/**
 * The lineage of a statement's text. When its analysis fails (it does not parse, or a parse tree
 * thousands of levels deep overflows the walk) what it derives from is not known: opaque, so the
 * columns without a table origin are withheld instead of masked by detectors alone.
 */
function lineageOf(text: string): Lineage {
  const sources = columnSourcesOrFailure(text);
  return sources === ANALYSIS_FAILED ? { sources: null, opaque: true } : { sources, opaque: false };
}
