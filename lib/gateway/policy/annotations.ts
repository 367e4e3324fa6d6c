/**
 * Obligation annotations on Cedar policies, parsed and checked once when a policy set is
 * compiled. Misplaced or malformed obligations are errors, not warnings: an admin who writes
 * `@hold` on a forbid, or `@approvals("two")`, believes something is enforced that is not.
 *
 *   @id("name")            names the policy in verdicts, logs and the simulator
 *   @hold("g1, g2")        permit only: approval needed from any of these groups
 *   @approvals("2")        permit with @hold only: minimum approvals (default 1)
 *   @mask("pii, cards")    permit only: masking rule sets applied to results ("*" = all enabled)
 *   @reason("text")        forbid only: the deny reason shown to the client
 */
import type { PolicyInfo } from "./verdict";

export const MAX_APPROVALS = 10;

export interface AnnotationProblem {
  severity: "error" | "warning";
  message: string;
}

export interface ParsedAnnotations {
  info: PolicyInfo;
  problems: AnnotationProblem[];
}

type Annotations = Record<string, string | null | undefined>;

const KNOWN = new Set(["id", "hold", "approvals", "mask", "reason"]);
// Near misses of the obligation names: a typo would silently drop an obligation.
const SUSPICIOUS = /^(holds?|approv\w*|masks?|masking|reasons?|ids?|name)$/i;

export function parseAnnotations(
  cedarId: string,
  effect: "permit" | "forbid",
  annotations: Annotations,
): ParsedAnnotations {
  const problems: AnnotationProblem[] = [];
  const error = (message: string) => problems.push({ severity: "error", message });
  const value = (name: string): string | undefined => {
    if (!(name in annotations)) return undefined;
    const v = annotations[name];
    if (typeof v !== "string" || v.trim() === "") {
      error(`@${name} needs a non-empty value`);
      return undefined;
    }
    return v.trim();
  };

  const info: PolicyInfo = { id: value("id") ?? cedarId, effect };

  const hold = value("hold");
  const approvals = value("approvals");
  if (hold !== undefined) {
    const groups = splitList(hold);
    if (effect !== "permit") error("@hold is only meaningful on a permit");
    else if (groups.length === 0) error("@hold needs at least one approver group");
    else info.hold = { approverGroups: groups, minApprovals: parseApprovals(approvals, error) };
  } else if (approvals !== undefined) {
    error("@approvals needs @hold on the same policy");
  }

  const mask = value("mask");
  if (mask !== undefined) {
    const sets = splitList(mask);
    if (effect !== "permit") error("@mask is only meaningful on a permit");
    else if (sets.length === 0) error("@mask needs at least one rule set name (or \"*\")");
    else info.maskRuleSets = sets;
  }

  const reason = value("reason");
  if (reason !== undefined) {
    if (effect !== "forbid") error("@reason is only meaningful on a forbid");
    else info.reason = reason;
  }

  for (const name of Object.keys(annotations)) {
    if (!KNOWN.has(name) && SUSPICIOUS.test(name)) {
      problems.push({
        severity: "warning",
        message: `unknown annotation @${name} is ignored (obligations are @id, @hold, @approvals, @mask, @reason)`,
      });
    }
  }
  return { info, problems };
}

function parseApprovals(raw: string | undefined, error: (m: string) => void): number {
  if (raw === undefined) return 1;
  if (!/^[1-9][0-9]*$/.test(raw) || Number(raw) > MAX_APPROVALS) {
    error(`@approvals must be a whole number from 1 to ${MAX_APPROVALS}, got "${raw}"`);
    return 1;
  }
  return Number(raw);
}

function splitList(raw: string): string[] {
  const items = raw.split(",").map((s) => s.trim());
  // An empty item ("a,,b") is most likely a typo; reject the whole list rather than guess.
  if (items.some((s) => s === "")) return [];
  return [...new Set(items)];
}
