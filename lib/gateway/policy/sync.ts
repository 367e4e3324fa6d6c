import type { Db } from "@/db/client";
import { currentPolicy } from "@/db/queries/policies";
import { policyVersions } from "@/db/schema";
import type { EventBus } from "@/lib/events/bus";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "@/lib/services/audit/append";
import { mutate } from "@/lib/services/tx";
import { DEFAULT_POLICIES } from "./defaults";
import { getPolicyRuntime } from "./runtime";
import { loggable } from "@/lib/util/loggable";

/**
 * Keeps this process's policy runtime equal to the newest stored version: installs the shipped
 * defaults as version 1 on first start, loads the current version, and reloads whenever any
 * process announces `policy.changed`. A reload always reads the database (the message only says
 * "something changed"), so a lost or duplicated notification cannot install the wrong text.
 */
export async function startPolicySync(db: Db, bus: EventBus): Promise<() => void> {
  if (!(await currentPolicy(db))) {
    await mutate(db, async (tx) => {
      const inserted = await tx.insert(policyVersions).values({ version: 1, text: DEFAULT_POLICIES, comment: "shipped defaults" }).onConflictDoNothing().returning({ version: policyVersions.version });
      if (inserted.length) await appendAudit(tx, null, { action: "policy.save", subject: "policy:v1", detail: { comment: "shipped defaults" } });
    });
  }
  const reload = async () => {
    const row = await currentPolicy(db);
    if (row) getPolicyRuntime().setPolicies(row.text, String(row.version));
  };
  await reload();
  // Coalesce bursts, but never miss one: a message during a reload triggers one more reload.
  let running = false;
  let again = false;
  const schedule = async () => {
    if (running) {
      again = true;
      return;
    }
    running = true;
    do {
      again = false;
      await reload().catch((err) => console.error("[policy] reload failed; keeping the loaded version:", loggable(err)));
    } while (again);
    running = false;
  };
  return bus.subscribe(Topics.policyChanged, () => void schedule());
}
