/**
 * Compiling a policy set: parse, validate against the schema (strict mode), read the obligation
 * annotations of every policy, and work out whether any policy looks at the clock (which decides
 * how the decision cache may key it). A set with any error is rejected as a whole; there is no
 * "load the policies that parsed" mode, since dropping a forbid is a bypass.
 */
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import type { DetailedError, PolicyJson } from "@cedar-policy/cedar-wasm/nodejs";
import { deepFreeze } from "@/lib/util/deep-freeze";
import { parseAnnotations } from "./annotations";
import { POLICY_SCHEMA } from "./schema";
import type { PolicyInfo } from "./verdict";

export interface PolicyProblem {
  severity: "error" | "warning";
  message: string;
  help?: string;
  /** the policy's @id (or Cedar id) when the problem belongs to one policy */
  policy?: string;
  /** 1-based */
  line?: number;
  column?: number;
}

export interface CompiledPolicy extends PolicyInfo {
  /** Cedar's id, "policy<N>" in source order */
  cedarId: string;
  /** 1-based line where the policy (its first annotation) starts */
  line: number;
}

/**
 * How decisions depend on `context.time`: "none" (cache freely), "coarse" (only hour/weekday
 * are read; they join the cache key), "exact" (epoch or the whole time record: never cache).
 */
export type TimeSensitivity = "none" | "coarse" | "exact";

export interface CompileResult {
  ok: boolean;
  errors: PolicyProblem[];
  warnings: PolicyProblem[];
  policies: CompiledPolicy[];
  timeSensitivity: TimeSensitivity;
  /** whether any policy can see `context.request.text` (if not, the cache key leaves it out) */
  readsRequestText: boolean;
}

/**
 * The last few results by text, frozen. One save compiles its text up to three times in a
 * process (the editor's preview, the save's validation, the runtime installing it), each ~40 ms
 * of Cedar on the thread that also relays every gateway session. The result depends on the text
 * alone (the schema is fixed).
 */
const recent = new Map<string, CompileResult>();
const RECENT = 4;

export function compilePolicySet(text: string): CompileResult {
  const hit = recent.get(text);
  if (hit) {
    recent.delete(text);
    recent.set(text, hit);
    return hit;
  }
  const result = deepFreeze(compile(text));
  recent.set(text, result);
  if (recent.size > RECENT) recent.delete(recent.keys().next().value!);
  return result;
}

function compile(text: string): CompileResult {
  const result: CompileResult = { ok: false, errors: [], warnings: [], policies: [], timeSensitivity: "none", readsRequestText: true };
  const where = locator(text);

  const parts = cedar.policySetTextToParts(text);
  if (parts.type === "failure") {
    result.errors = parts.errors.map((e) => fromDetailed("error", e, where));
    return result;
  }
  if (parts.policy_templates.length > 0) {
    result.errors.push({ severity: "error", message: "policy templates are not supported; write static policies" });
    return result;
  }

  // Cedar numbers policies policy0..N in source order but returns the parts sorted by id as
  // strings (policy0, policy1, policy10, policy2, ...). Rebuild that pairing, then prove it by
  // finding every part verbatim, in order, in the source; if Cedar ever changes either behaviour
  // the set is rejected instead of attaching annotations to the wrong policy.
  const ids = parts.policies.map((_, i) => `policy${i}`).sort();
  const bySource = parts.policies
    .map((part, k) => ({ part, cedarId: ids[k]!, index: Number(ids[k]!.slice("policy".length)) }))
    .sort((a, b) => a.index - b.index);
  let cursor = 0;
  const asts = new Map<string, PolicyJson>();
  for (const { part, cedarId } of bySource) {
    const at = text.indexOf(part, cursor);
    const json = cedar.policyToJson(part);
    if (at < 0 || json.type === "failure") {
      result.errors.push({ severity: "error", message: "internal: could not map Cedar policy ids to the source" });
      return result;
    }
    cursor = at + part.length;
    asts.set(cedarId, json.json);
    const { info, problems } = parseAnnotations(cedarId, json.json.effect, json.json.annotations ?? {});
    const line = where.lineOfIndex(at);
    result.policies.push({ ...info, cedarId, line });
    for (const p of problems) {
      (p.severity === "error" ? result.errors : result.warnings).push({ ...p, policy: info.id, line });
    }
  }

  const seen = new Map<string, CompiledPolicy>();
  for (const p of result.policies) {
    const first = seen.get(p.id);
    if (first) {
      result.errors.push({
        severity: "error",
        message: `duplicate policy id "${p.id}" (first used on line ${first.line})`,
        policy: p.id,
        line: p.line,
      });
    } else seen.set(p.id, p);
  }

  const nameOf = (cedarId: string) => result.policies.find((p) => p.cedarId === cedarId)?.id ?? cedarId;
  const validation = cedar.validate({
    schema: POLICY_SCHEMA,
    policies: { staticPolicies: text },
    validationSettings: { mode: "strict" },
  });
  if (validation.type === "failure") {
    result.errors.push(...validation.errors.map((e) => fromDetailed("error", e, where)));
  } else {
    // The validator reports one error per action a policy may apply to; keep one of each.
    const dedupe = new Set<string>();
    const add = (severity: "error" | "warning", policyId: string, e: DetailedError) => {
      const p = { ...fromDetailed(severity, e, where), policy: nameOf(policyId) };
      p.message = p.message.replace(/^for policy `[^`]*`, /, "").replace(/ for Gatehouse::Action::"[^"]*"/g, "");
      const key = `${policyId}|${p.line}|${p.column}|${p.message}`;
      if (dedupe.has(key)) return;
      dedupe.add(key);
      (severity === "error" ? result.errors : result.warnings).push(p);
    };
    for (const e of validation.validationErrors) add("error", e.policyId, e.error);
    for (const w of validation.validationWarnings) add("warning", w.policyId, w.error);
    for (const w of validation.otherWarnings) result.warnings.push(fromDetailed("warning", w, where));
  }

  result.errors.sort(byLine);
  result.warnings.sort(byLine);
  result.timeSensitivity = timeSensitivity([...asts.values()]);
  result.readsRequestText = readsRequestText([...asts.values()]);
  result.ok = result.errors.length === 0;
  return result;
}

const byLine = (a: PolicyProblem, b: PolicyProblem) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0);

/** Cedar reports UTF-8 byte offsets; editors want 1-based line and column (in characters). */
function locator(text: string) {
  const bytes = Buffer.from(text, "utf8");
  const lineOfIndex = (index: number) => text.slice(0, index).split("\n").length;
  const lineColOfByte = (offset: number) => {
    const before = bytes.subarray(0, Math.max(0, offset)).toString("utf8");
    const lines = before.split("\n");
    return { line: lines.length, column: lines[lines.length - 1]!.length + 1 };
  };
  return { lineOfIndex, lineColOfByte };
}

function fromDetailed(
  severity: "error" | "warning",
  e: DetailedError,
  where: ReturnType<typeof locator>,
): PolicyProblem {
  const p: PolicyProblem = { severity, message: e.message };
  const label = e.sourceLocations?.[0]?.label;
  const help = [e.help, label].filter((s): s is string => !!s).join("; ");
  if (help) p.help = help;
  const loc = e.sourceLocations?.[0];
  if (loc) Object.assign(p, where.lineColOfByte(loc.start));
  return p;
}

const RANK: Record<TimeSensitivity, number> = { none: 0, coarse: 1, exact: 2 };

/**
 * Sound over-approximation of how the policies read `context.time`. Any mention of `time`,
 * `hour` or `weekday` makes the set "coarse"; `epoch`, a bare `context.time` (compared as a whole
 * record) or a bare `context` makes it "exact". Attribute names only appear as `.attr` / `has`
 * nodes in the JSON form, with escapes already decoded, so nothing can hide from this walk.
 */
export function timeSensitivity(policies: PolicyJson[]): TimeSensitivity {
  let level: TimeSensitivity = "none";
  const bump = (to: TimeSensitivity) => {
    if (RANK[to] > RANK[level]) level = to;
  };
  const isContext = (n: unknown) => !!n && typeof n === "object" && (n as { Var?: unknown }).Var === "context";
  const visit = (node: unknown, accessed: boolean): void => {
    if (Array.isArray(node)) return node.forEach((n) => visit(n, false));
    if (!node || typeof node !== "object") return;
    for (const [op, body] of Object.entries(node)) {
      if (op === "Value") continue; // literals cannot read the context
      if (op === "Var") {
        if (body === "context" && !accessed) bump("exact");
        continue;
      }
      if ((op === "." || op === "has") && body && typeof body === "object") {
        const { left, attr } = body as { left: unknown; attr: string | string[] };
        const attrs = Array.isArray(attr) ? attr : [attr];
        if (attrs.includes("epoch")) bump("exact");
        if (attrs.some((a) => a === "time" || a === "hour" || a === "weekday")) bump("coarse");
        if (op === "." && attrs[0] === "time" && isContext(left) && !accessed) bump("exact");
        visit(left, true);
        continue;
      }
      visit(body, false);
    }
  };
  for (const p of policies) visit(p.conditions, false);
  return level;
}

/**
 * Sound over-approximation of whether a policy can observe `context.request.text`. The text
 * differs for every simple-protocol statement (literals are inlined), so keeping it in the
 * decision-cache key when no policy reads it turns every such statement into a Cedar
 * evaluation. Any `.text` / `has text`, a bare `context.request` (compared or used as a whole
 * record) or a bare `context` counts as reading it. Same walk as `timeSensitivity`: attribute
 * names appear only in these nodes, escapes decoded.
 */
export function readsRequestText(policies: PolicyJson[]): boolean {
  let reads = false;
  const isContext = (n: unknown) => !!n && typeof n === "object" && (n as { Var?: unknown }).Var === "context";
  const visit = (node: unknown, accessed: boolean): void => {
    if (reads) return;
    if (Array.isArray(node)) return node.forEach((n) => visit(n, false));
    if (!node || typeof node !== "object") return;
    for (const [op, body] of Object.entries(node)) {
      if (op === "Value") continue; // literals cannot read the context
      if (op === "Var") {
        if (body === "context" && !accessed) reads = true;
        continue;
      }
      if ((op === "." || op === "has") && body && typeof body === "object") {
        const { left, attr } = body as { left: unknown; attr: string | string[] };
        const attrs = Array.isArray(attr) ? attr : [attr];
        if (attrs.includes("text")) reads = true;
        if (op === "." && attrs[0] === "request" && isContext(left) && !accessed) reads = true;
        visit(left, true);
        continue;
      }
      visit(body, false);
    }
  };
  for (const p of policies) visit(p.conditions, false);
  return reads;
}
