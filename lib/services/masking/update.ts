import { eq } from "drizzle-orm";
import type { Db } from "@/db/client";
import { getMaskingRule } from "@/db/queries/masking";
import { maskingRules } from "@/db/schema";
import { authorize } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { Topics } from "@/lib/events/bus";
import { GatehouseError } from "@/lib/gateway/core/types";
import { appendAudit } from "../audit/append";
import { mutate } from "../tx";
import { definitionOf, parseRuleInput } from "./input";

/** Replaces a rule's definition (the console sends the whole rule). */
export async function updateMaskingRule(db: Db, caller: Caller | null, id: string, input: unknown) {
  const who = authorize(caller, "masking:write");
  const existing = await getMaskingRule(db, { id });
  if (!existing) throw new GatehouseError("NOT_FOUND", "no such masking rule");
  const body = (typeof input === "object" && input !== null ? input : {}) as Record<string, unknown>;
  const { rule, ruleSet } = parseRuleInput({ ...body, name: body.name ?? existing.name }, { id, name: String(body.name ?? existing.name) });
  return mutate(db, async (tx, emit) => {
    await tx.update(maskingRules).set({ name: rule.name, enabled: rule.enabled, ruleSet, definition: definitionOf(rule), updatedAt: new Date() }).where(eq(maskingRules.id, id));
    await appendAudit(tx, who, { action: "masking.update", subject: `masking:${rule.name}`, detail: { ruleSet, enabled: rule.enabled, ...definitionOf(rule) } });
    emit(Topics.maskingChanged, { id });
    return { id, name: rule.name };
  });
}

export async function deleteMaskingRule(db: Db, caller: Caller | null, id: string) {
  const who = authorize(caller, "masking:write");
  return mutate(db, async (tx, emit) => {
    const [row] = await tx.delete(maskingRules).where(eq(maskingRules.id, id)).returning({ id: maskingRules.id, name: maskingRules.name });
    if (!row) throw new GatehouseError("NOT_FOUND", "no such masking rule");
    await appendAudit(tx, who, { action: "masking.delete", subject: `masking:${row.name}` });
    emit(Topics.maskingChanged, { id });
    return row;
  });
}
