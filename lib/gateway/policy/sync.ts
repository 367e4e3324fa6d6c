import type { Db } from "@/db/client";
import { currentPolicy, currentPolicyVersion } from "@/db/queries/policies";
import { policyVersions } from "@/db/schema";
import type { EventBus } from "@/lib/events/bus";
import { Topics } from "@/lib/events/bus";
import { appendAudit } from "@/lib/services/audit/append";
import { mutate } from "@/lib/services/tx";
import { DEFAULT_POLICIES } from "./defaults";
import { getPolicyRuntime } from "./runtime";
import { loggable } from "@/lib/util/loggable";

/**
 * How often the stored version is compared with the loaded one, in case a `policy.changed`
 * message never arrived: NOTIFY is best effort (a LISTEN connection that drops and reconnects
 * misses what was sent meanwhile), and without this check a process would go on enforcing the
 * previous version — which may grant what the new one revokes — until the next save.
 */
export const POLICY_POLL_MS = Number(process.env.GATEHOUSE_POLICY_POLL_MS) || 10_000;

/**
 * Keeps this process's policy runtime equal to the newest stored version: installs the shipped
 * defaults as version 1 on first start, loads the current version, and reloads whenever any
 * process announces `policy.changed`, or the stored version is found to differ (POLICY_POLL_MS). A
 * reload always reads the database (the message only says "something changed"), so a lost or
 * duplicated notification cannot install the wrong text.
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
  const poll = setInterval(() => {
    void currentPolicyVersion(db)
      .then((version) => {
        if (version !== null && String(version) !== getPolicyRuntime().version) void schedule();
      })
      .catch(() => {}); // the store is down: the next poll (or message) tries again
  }, POLICY_POLL_MS);
  poll.unref();
  const unsubscribe = bus.subscribe(Topics.policyChanged, () => void schedule());
  // A save in this process waits for its version to be installed here (savePolicies) and asks now.
  getPolicyRuntime().setReloader(() => void schedule());
  return () => {
    clearInterval(poll);
    unsubscribe();
    getPolicyRuntime().setReloader(null);
  };
}
