/**
 * Public types of the masking engine. See README.md in this folder for the semantics.
 */
import type { DetectorName } from "./catalog";

export type MaskStyle = "redact" | "partial" | "hash" | "null";
export type MaskChannel = "sql" | "terminal" | "http" | "mcp";

export interface MaskingRule {
  id: string;
  name: string;
  enabled: boolean;
  /** built-in detectors whose matches are masked (anywhere, or inside `columns` if given) */
  detectors: DetectorName[];
  /** column globs (see columns.ts); with no detectors/regexes/dictionary the whole value is masked */
  columns: string[];
  style: MaskStyle;
  /** partial: letters/digits kept at the end (default 4) */
  keepLast?: number;
  /** admin-defined patterns, validated by validateRule */
  regexes?: string[];
  /** words or phrases, matched case-insensitively as whole words */
  dictionary?: string[];
  /** channels the rule applies to; default all */
  appliesTo?: MaskChannel[];
  /**
   * SQL: refuse statements that use a column of `columns` anywhere but as a plain output column
   * (WHERE, ORDER BY, joins, functions...), which would reveal masked values without returning
   * them (postgres/inference.ts). Default false.
   */
  blockInference?: boolean;
}

/** What a protocol adapter knows about a result column (RowDescription, MySQL column def). */
export interface ColumnRef {
  connection?: string;
  schema?: string;
  table?: string;
  column: string;
}

/**
 * Precomputed decision for one result column, built once per RowDescription by
 * `Masker.columnPlan` and passed to every `maskValue` of that column. Opaque to callers except
 * for these two fields.
 */
export interface ColumnMaskPlan {
  /** key counts are reported under ("table.column") */
  readonly column: string;
  /** true when a columns-only rule replaces every value of this column */
  readonly masksWholeValue: boolean;
  /**
   * true when that rule's output tells nothing of the value's parts (redact, null, hash; not
   * partial, which keeps the last characters)
   */
  readonly hidesWholeValue: boolean;
  /** ids of the rules whose columns name this column; empty when only text-wide rules apply */
  readonly columnRules: readonly string[];
  /**
   * What every value of the column becomes when that does not depend on the value (a whole-value
   * redact → "[REDACTED]", null → null): callers need not decode the value. Undefined otherwise.
   */
  readonly replacement: string | null | undefined;
}

export interface MaskCount {
  ruleId: string;
  /** "table.column", or "*" for free text and values masked without a column plan */
  column: string;
  /** values (cells, texts) in which this rule masked something */
  values: number;
  /** masked spans: a whole cell counts once, each detector match counts once */
  matches: number;
}

export interface MaskerOptions {
  /** HMAC key of the hash style; per deployment, never shown to users */
  hashKey: Uint8Array | string;
  /** only rules that apply to this channel are compiled; omitted = all rules */
  channel?: MaskChannel;
}

export interface Masker {
  /** false when no enabled rule applies: callers may skip masking entirely */
  readonly active: boolean;
  /**
   * null = no rule can touch this column (no column rule and no detectors at all). A plan that
   * does not mask the whole value scans with the column's rules and every text-wide rule too, so
   * a value it leaves unchanged holds nothing `maskValue(value)` would find.
   */
  columnPlan(col: ColumnRef): ColumnMaskPlan | null;
  /**
   * Mask one value. With a plan: the column's rules. With no plan argument: detectors only,
   * counted under "*". With plan === null: returned unchanged. Returns null only for the
   * "null" style on a whole-column rule.
   */
  maskValue(value: string, plan?: ColumnMaskPlan | null): string | null;
  /** Detectors only, for free text: error messages, notices, terminal lines, HTTP/MCP bodies. */
  maskText(text: string): string;
  counts(): MaskCount[];
  resetCounts(): void;
}
