import { z } from "zod";
import { GatehouseError } from "@/lib/gateway/core/types";
import { validateRule, type MaskingRule } from "@/lib/gateway/masking";

/** What the console/CLI send: a masking rule plus the rule set a policy's @mask("...") names. */
export const ruleSetName = z.string().trim().min(1).max(64).regex(/^[A-Za-z0-9_.-]+$/);

export function parseRuleInput(input: unknown, existing?: { id: string; name: string }): { rule: MaskingRule; ruleSet: string } {
  const raw = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const { ruleSet = "default", ...rest } = raw;
  const set = ruleSetName.safeParse(ruleSet);
  if (!set.success) throw new GatehouseError("INVALID", "ruleSet: letters, digits, '.', '_' and '-' only");
  const v = validateRule({ id: existing?.id ?? "new", name: existing?.name, ...rest });
  if (!v.ok) throw new GatehouseError("INVALID", v.errors.join("; "), { errors: v.errors });
  return { rule: v.rule, ruleSet: set.data };
}

/** Stored definition: everything but the identity columns. */
export function definitionOf(rule: MaskingRule): Record<string, unknown> {
  const { id: _id, name: _name, enabled: _enabled, ...definition } = rule;
  return definition;
}
