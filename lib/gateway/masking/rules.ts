/**
 * Validation of masking rules as they arrive from the console, the CLI or the REST API.
 * Services call `validateRule` before storing a rule; `compileMasker` re-checks the parts that
 * could hurt at run time (patterns, globs) and refuses to build a masker from a bad rule.
 */
import { z } from "zod";
import { DETECTOR_NAMES } from "./catalog";
import { parseColumnPattern } from "./columns";
import { MAX_DICTIONARY_ENTRIES, MAX_PHRASE_LENGTH, checkCustomRegex } from "./custom";
import type { MaskingRule } from "./types";
import { plainName } from "@/lib/util/plain-name";

export const MASK_STYLES = ["redact", "partial", "hash", "null"] as const;
export const MASK_CHANNELS = ["sql", "terminal", "http", "mcp"] as const;
const MAX_REGEXES = 20;
const MAX_COLUMNS = 200;

export const maskingRuleSchema = z
  .strictObject({
    id: z.string().trim().min(1).max(100),
    name: plainName(z.string().trim().min(1).max(200)),
    enabled: z.boolean().default(true),
    detectors: z.array(z.enum(DETECTOR_NAMES)).max(DETECTOR_NAMES.length).default([]),
    columns: z.array(z.string().max(256)).max(MAX_COLUMNS).default([]),
    style: z.enum(MASK_STYLES),
    keepLast: z.number().int().min(0).max(64).optional(),
    regexes: z.array(z.string()).max(MAX_REGEXES).optional(),
    dictionary: z.array(z.string().trim().min(1).max(MAX_PHRASE_LENGTH)).max(MAX_DICTIONARY_ENTRIES).optional(),
    appliesTo: z.array(z.enum(MASK_CHANNELS)).min(1).optional(),
    blockInference: z.boolean().optional(),
  })
  .superRefine((rule, ctx) => {
    for (const error of ruleProblems(rule)) ctx.addIssue({ code: "custom", message: error.message, path: error.path });
  });

interface Problem {
  path: (string | number)[];
  message: string;
}

/** Checks zod cannot express: patterns that must compile and a rule that masks something. */
export function ruleProblems(rule: Pick<MaskingRule, "detectors" | "columns" | "regexes" | "dictionary" | "blockInference">): Problem[] {
  const problems = patternProblems(rule.columns, rule.regexes ?? []);
  const matchesSomething = rule.detectors.length > 0 || (rule.regexes?.length ?? 0) > 0 || (rule.dictionary?.length ?? 0) > 0;
  if (!matchesSomething && rule.columns.length === 0) {
    problems.push({ path: [], message: "a rule needs columns, detectors, regexes or a dictionary" });
  }
  if (rule.blockInference && rule.columns.length === 0) problems.push({ path: ["blockInference"], message: "blocking inference needs columns: it guards the columns the rule names" });
  return problems;
}

function patternProblems(columns: readonly string[], regexes: readonly string[]): Problem[] {
  const problems: Problem[] = [];
  columns.forEach((pattern, i) => {
    const parsed = parseColumnPattern(pattern);
    if (typeof parsed === "string") problems.push({ path: ["columns", i], message: parsed });
  });
  regexes.forEach((source, i) => {
    const error = checkCustomRegex(source);
    if (error) problems.push({ path: ["regexes", i], message: `regex ${JSON.stringify(source.slice(0, 40))} ${error}` });
  });
  return problems;
}

export type RuleValidation = { ok: true; rule: MaskingRule } | { ok: false; errors: string[] };

/** Validate untrusted input into a MaskingRule; on failure every problem found is reported. */
export function validateRule(input: unknown): RuleValidation {
  const parsed = maskingRuleSchema.safeParse(input);
  if (parsed.success) return { ok: true, rule: parsed.data };
  const issues: Problem[] = parsed.error.issues.map((issue) => ({ path: issue.path as (string | number)[], message: issue.message }));
  // zod skips refinements once the shape is wrong; still report bad patterns in the same answer.
  const raw = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
  for (const p of patternProblems(strings(raw.columns), strings(raw.regexes))) {
    if (!issues.some((i) => i.message === p.message)) issues.push(p);
  }
  return { ok: false, errors: issues.map((i) => `${i.path.length ? i.path.join(".") : "rule"}: ${i.message}`) };
}
