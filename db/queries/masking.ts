import { asc, eq } from "drizzle-orm";
import type { Db } from "../client";
import { maskingRules } from "../schema";

const columns = {
  id: maskingRules.id,
  name: maskingRules.name,
  enabled: maskingRules.enabled,
  ruleSet: maskingRules.ruleSet,
  definition: maskingRules.definition,
  updatedAt: maskingRules.updatedAt,
};

export function listMaskingRules(db: Db) {
  return db.select(columns).from(maskingRules).orderBy(asc(maskingRules.ruleSet), asc(maskingRules.name));
}

export async function getMaskingRule(db: Db, params: { id?: string; name?: string }) {
  const [row] = await db.select(columns).from(maskingRules).where(params.id ? eq(maskingRules.id, params.id) : eq(maskingRules.name, params.name ?? ""));
  return row ?? null;
}
