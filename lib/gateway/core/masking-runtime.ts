import { createHmac } from "node:crypto";
import type { Db } from "@/db/client";
import { listMaskingRules } from "@/db/queries/masking";
import { maskingRules } from "@/db/schema";
import { masterKey } from "@/lib/crypto/secrets";
import { Topics, type EventBus } from "@/lib/events/bus";
import { compileMasker, type MaskChannel, type Masker, type MaskingRule } from "@/lib/gateway/masking";
import { POLICY_POLL_MS } from "@/lib/gateway/policy/sync";
import { appendAudit } from "@/lib/services/audit/append";
import { mutate } from "@/lib/services/tx";
import { loggable } from "@/lib/util/loggable";

/**
 * The stored masking rules, kept in memory and reloaded on `masking.changed`. Gateways ask for
 * a masker by the rule sets a verdict names (`@mask("pii")`, "*" = every enabled rule) and a
 * channel; compiled maskers are cached per rules version. Each call returns a fresh masker so
 * per-request counts never mix.
 */
interface StoredRule { rule: MaskingRule; ruleSet: string }

class MaskingRuntime {
  private rules: StoredRule[] = [];
  private version = 0;
  private hashKey: Buffer | null = null;

  load(rows: { id: string; name: string; enabled: boolean; ruleSet: string; definition: Record<string, unknown> }[]) {
    this.rules = rows.map((r) => ({ ruleSet: r.ruleSet, rule: { ...(r.definition as Omit<MaskingRule, "id" | "name" | "enabled">), id: r.id, name: r.name, enabled: r.enabled } as MaskingRule }));
    this.version++;
  }

  /** Rules selected by rule-set names. Unknown names select nothing (and policies validate names on save). */
  rulesFor(ruleSets: readonly string[]): MaskingRule[] {
    const all = ruleSets.includes("*");
    return this.rules.filter((r) => r.rule.enabled && (all || ruleSets.includes(r.ruleSet))).map((r) => r.rule);
  }

  maskerFor(ruleSets: readonly string[], channel: MaskChannel): Masker {
    // Deterministic hash tokens must be stable across processes and restarts: key from the master key.
    this.hashKey ??= createHmac("sha256", masterKey()).update("gatehouse-masking-hash").digest();
    return compileMasker(this.rulesFor(ruleSets), { hashKey: this.hashKey, channel });
  }

  get rulesVersion() {
    return this.version;
  }
}

export function getMaskingRuntime(): MaskingRuntime {
  const g = globalThis as { __gatehouseMasking?: MaskingRuntime };
  return (g.__gatehouseMasking ??= new MaskingRuntime());
}

/** Shipped rule set "pii" (used by the default policies for agents) — created once on first start. */
export const DEFAULT_MASKING_RULES: { name: string; ruleSet: string; definition: Omit<MaskingRule, "id" | "name" | "enabled"> }[] = [
  { name: "pii-identifiers", ruleSet: "pii", definition: { detectors: ["ssn", "card", "iban"], columns: [], style: "partial", keepLast: 4 } },
  { name: "pii-contact", ruleSet: "pii", definition: { detectors: ["email", "phone"], columns: [], style: "hash" } },
  { name: "pii-columns", ruleSet: "pii", definition: { detectors: [], columns: ["*.ssn", "*.card_number", "*.password*"], style: "redact" } },
  { name: "secrets", ruleSet: "secrets", definition: { detectors: ["jwt", "aws-key", "github-token", "slack-token", "stripe-key", "google-api-key", "private-key"], columns: [], style: "redact" } },
];

export async function startMaskingSync(db: Db, bus: EventBus): Promise<() => void> {
  if ((await listMaskingRules(db)).length === 0) {
    await mutate(db, async (tx) => {
      const inserted = await tx
        .insert(maskingRules)
        .values(DEFAULT_MASKING_RULES.map((r) => ({ name: r.name, ruleSet: r.ruleSet, definition: r.definition as Record<string, unknown> })))
        .onConflictDoNothing()
        .returning({ name: maskingRules.name });
      if (inserted.length) await appendAudit(tx, null, { action: "masking.defaults", subject: "masking:defaults", detail: { rules: inserted.map((r) => r.name) } });
    });
  }
  // Loaded only when the rows differ: each load starts a new rules version (compiled maskers are cached per version).
  let loaded = "";
  const reload = async () => {
    const rows = await listMaskingRules(db);
    const seen = JSON.stringify(rows);
    if (seen === loaded) return;
    getMaskingRuntime().load(rows);
    loaded = seen;
  };
  await reload();
  // NOTIFY is best effort across processes (a LISTEN connection that reconnects misses what was
  // sent meanwhile): the rules are also re-read as often as the policies are compared (sync.ts),
  // so a lost `masking.changed` cannot leave a process handing out data a new rule masks.
  const poll = setInterval(() => void reload().catch(() => {}), POLICY_POLL_MS);
  poll.unref();
  const unsubscribe = bus.subscribe(Topics.maskingChanged, () => void reload().catch((err) => console.error("[masking] reload failed:", loggable(err))));
  return () => {
    clearInterval(poll);
    unsubscribe();
  };
}
