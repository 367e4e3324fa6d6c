/**
 * Waiting for a decision without holding anything open. The event bus wakes us the moment an
 * approver decides (in this process, or in another one via LISTEN/NOTIFY); every wake-up
 * re-reads the row, because the bus is a hint and the database is the truth. A periodic poll
 * covers lost notifications (PGlite has no cross-process NOTIFY; a NOTIFY can be dropped).
 * No transaction is open while waiting: PGlite has one connection and a held transaction
 * would stall every other session.
 */
import { getApprovalState } from "@/db/queries/approvals";
import type { Db } from "@/db/client";
import { getBus, Topics } from "@/lib/events/bus";
import { closePendingApproval } from "@/lib/services/approvals/expire";

export interface WaitOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /** safety-net poll interval (default 2 s) */
  pollMs?: number;
}

export type WaitResult =
  /** the request left `pending` (approved, denied, expired, cancelled, used) */
  | { outcome: "decided"; status: string }
  /** still pending when timeoutMs passed */
  | { outcome: "timeout" }
  | { outcome: "aborted" }
  | { outcome: "missing" };

/** If the database does not answer the last check, give up this long after the deadline anyway. */
const DEADLINE_GRACE_MS = 3000;

export function waitForDecision(db: Db, id: number, opts: WaitOptions): Promise<WaitResult> {
  const deadline = Date.now() + Math.max(0, opts.timeoutMs);
  if (opts.signal?.aborted) return Promise.resolve({ outcome: "aborted" });
  return new Promise<WaitResult>((resolve) => {
    let settled = false;
    let checking = false;
    let recheck = false;
    const timers: NodeJS.Timeout[] = [];

    const settle = (r: WaitResult) => {
      if (settled) return;
      settled = true;
      off();
      timers.forEach(clearTimeout);
      clearInterval(poll);
      opts.signal?.removeEventListener("abort", onAbort);
      resolve(r);
    };

    const check = async () => {
      if (settled) return;
      // One read at a time; a wake-up during a read triggers exactly one more.
      if (checking) return void (recheck = true);
      checking = true;
      try {
        const row = await getApprovalState(db, id);
        if (!row) return settle({ outcome: "missing" });
        if (row.status !== "pending") return settle({ outcome: "decided", status: row.status });
        if (row.expiresAt.getTime() <= Date.now()) {
          // Past its TTL: close it ourselves rather than wait for someone to notice.
          if (await closePendingApproval(db, id, "expired", "ttl")) return settle({ outcome: "decided", status: "expired" });
          recheck = true; // decided in the meantime: read it again
        } else if (Date.now() >= deadline) {
          return settle({ outcome: "timeout" });
        }
      } catch (err) {
        console.warn(`[approvals] checking #${id} failed: ${(err as Error).message}`);
      } finally {
        checking = false;
        if (recheck && !settled) {
          recheck = false;
          void check();
        }
      }
    };

    const onAbort = () => settle({ outcome: "aborted" });
    opts.signal?.addEventListener("abort", onAbort, { once: true });

    // Subscribe before the first read, so a decision landing in between is not missed.
    const off = getBus().subscribe<{ id?: number }>(Topics.approvalDecided, (data) => {
      if (data?.id === id) void check();
    });
    const poll = setInterval(() => void check(), opts.pollMs ?? 2000);
    timers.push(setTimeout(() => void check(), deadline - Date.now()));
    timers.push(setTimeout(() => settle({ outcome: "timeout" }), deadline - Date.now() + DEADLINE_GRACE_MS));
    void check();
  });
}
