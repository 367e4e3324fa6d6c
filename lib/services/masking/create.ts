import type { Db } from "@/db/client";
import { maskingRules } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { definitionOf, parseRuleInput } from "./input";

export async function createMaskingRule(db: Db, caller: Caller | null, input: unknown) {
  const who = authorize(caller, "masking:write");
  const { rule, ruleSet } = parseRuleInput(input);
  return mutate(db, async (tx, emit) => {
    const [row] = await tx
      .insert(maskingRules)
      .values({ name: rule.name, enabled: rule.enabled, ruleSet, definition: definitionOf(rule) })
      .onConflictDoNothing({ target: maskingRules.name })
      .returning({ id: maskingRules.id, name: maskingRules.name });
    if (!row) throw new GatehouseError("CONFLICT", `a masking rule named "${rule.name}" already exists`);
    await appendAudit(tx, who, { action: "masking.create", subject: `masking:${row.name}`, detail: { ruleSet, ...definitionOf(rule) } });
    emit(Topics.maskingChanged, { id: row.id });
    return row;
  });
}
