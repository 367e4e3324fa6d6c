import type { Db } from "@/db/client";
import { loggable } from "@/lib/util/loggable";
import { mutate } from "../tx";
import { appendAudit, type AuditEntry } from "./append";
import { RefusalCoalescer } from "./coalesce";

/** A whole number from the environment, within [min, max], else the default. */
function setting(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  const n = raw === undefined || raw === "" ? NaN : Number(raw);
  return Number.isInteger(n) && n >= min && n <= max ? n : fallback;
}

// One per process, on globalThis: the gateways (server bundle) and the route handlers (Next's copy
// of lib) count into the same windows, written to the database of the latest refusal.
interface Refusals {
  coalescer: RefusalCoalescer;
  db: Db | null;
}
const g = globalThis as { __gatehouseRefusals?: Refusals };

function refusals(db: Db): RefusalCoalescer {
  const state: Refusals = (g.__gatehouseRefusals ??= {
    db: null,
    coalescer: new RefusalCoalescer(
      (entry) => writeRefusal(state, entry),
      // how long repeated refusals of one key are counted, and how many are written one by one first
      setting("GATEHOUSE_AUTH_FAILURE_WINDOW_MS", 60_000, 0, 3_600_000),
      setting("GATEHOUSE_AUTH_FAILURE_BURST", 5, 1, 1000),
      10_000,
      // the most of a count a process killed outright can lose
      setting("GATEHOUSE_AUTH_FAILURE_FLUSH_MS", 10_000, 50, 3_600_000),
    ),
  });
  state.db = db;
  return state.coalescer;
}

async function writeRefusal(state: Refusals, entry: AuditEntry): Promise<void> {
  await mutate(state.db!, (tx) => appendAudit(tx, null, entry)).catch((err) => console.error(`[audit] could not record ${entry.action}:`, loggable(err)));
}

/**
 * Audits a refused credential (a failed gateway, API or password authentication). Best effort:
 * the caller is refused whatever happens here, and a database that cannot take the row must not
 * turn the refusal into a different answer. Never pass the credential itself.
 *
 * `key` says which refusals are the same attempt repeated — the address and what it claimed to
 * be (an email, a user at a connection), with the same reason: past the first few in a window, a
 * flood of them is one row with the count when the window ends (coalesce.ts); a new key is
 * always written at once.
 */
export async function auditRefusedCredential(db: Db, key: string, entry: AuditEntry): Promise<void> {
  // A different reason is different evidence (a forged signature after a few expired tokens): its
  // own key, written at once. Only the same refusal, repeated, is counted.
  const reason = typeof entry.detail?.reason === "string" ? entry.detail.reason : "";
  await refusals(db).refuse(`${entry.action}\u0000${key}\u0000${reason}`, entry);
}

/** At shutdown, after the listeners stopped: the counts still held are written. */
export async function flushRefusals(): Promise<void> {
  await g.__gatehouseRefusals?.coalescer.flush();
}
