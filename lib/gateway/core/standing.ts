import { approvalSatisfies, maskingOf } from "@/lib/gateway/policy/verdict";
import type { ClassifiedRequest, HoldRequirement, Verdict } from "./types";
import { loggable } from "@/lib/util/loggable";

/**
 * Standing decisions: what is decided once and then stays open — the session itself
 * (`connect`), a shell or exec, a port forward, agent or X11 forwarding. A statement is decided
 * when it runs; these would otherwise outlive what they were decided on. Each is decided again,
 * without holding, whenever one of those inputs changes (the user's role or groups, the
 * connection's tags, the policy version, the user's access grants, the clock when the policies
 * read it), and ended when the answer would not let it open now:
 *   - deny: ended, with the policy's reason;
 *   - hold: ended, unless an approval let it open and that approval meets what the hold now
 *     asks (the approval stands for what it approved, not for a stricter requirement: other or
 *     more approvers, as for approval windows);
 *   - allow or mask: stands, unless its stream (a shell's output) now needs masking it was not
 *     opened under: that stream is already flowing.
 * A decision that fails ends it (fail closed).
 */
export interface Standing {
  request: ClassifiedRequest;
  /** the request's text as recorded (masked when masking applied): what revocations and previews show */
  shown: string;
  /** the recorded request it was decided by */
  requestSeq: number;
  /** an approval let it open */
  approved: boolean;
  /** what that approval was asked under (the hold's requirement); missing: it covers no hold */
  approvedUnder?: HoldRequirement;
  /**
   * the masking rule sets its stream was opened under; null when nothing it carries is masked
   * (the session itself, whose statements are decided one by one; a forward's bytes)
   */
  ruleSets: readonly string[] | null;
  /** ends it, telling its user why; called at most once */
  revoke(reason: string): void;
}

/** null when the standing decision still stands under `verdict`, else why it does not. */
export function revocationReason(standing: Pick<Standing, "approved" | "approvedUnder" | "ruleSets">, verdict: Verdict): string | null {
  if (verdict.type === "deny") return verdict.reason;
  if (verdict.type === "hold" && !standing.approved) return "it now needs an approval";
  if (verdict.type === "hold" && !(standing.approvedUnder && approvalSatisfies(standing.approvedUnder, verdict.requirement))) {
    return "it now needs another approval than the one it was opened with";
  }
  if (standing.ruleSets === null) return null;
  const had = standing.ruleSets;
  const added = maskingOf(verdict).filter((r) => !had.includes(r));
  return added.length ? `masking (${added.join(", ")}) now applies to it` : null;
}

export interface Revocation {
  standing: Standing;
  verdict: Verdict | null;
  reason: string;
  cause: string;
}

/**
 * One session's standing decisions, decided again on `recheck(cause)`. Rechecks never overlap: a
 * cause arriving during one runs one more pass after it, so the last change is always decided
 * on its own inputs. Something decided before a change but registered after it (it waited for
 * an approval or for the upstream) is decided again as it registers: `epoch` tells them apart.
 */
export class StandingDecisions {
  private readonly entries = new Set<Standing>();
  private running: Promise<void> | null = null;
  private pending: string | null = null;
  private changes = 0;

  constructor(
    /** the policy's answer now, with the session's current inputs; a throw ends the entry */
    private readonly verdictNow: (request: ClassifiedRequest) => Promise<Verdict>,
    /** records the revocation; called before `standing.revoke` */
    private readonly onRevoked: (r: Revocation) => void,
  ) {}

  /**
   * Counts the changes announced so far. A decision taken at epoch N was taken on inputs no older
   * than the N-th change: the caller reads it just before deciding and hands it to `add`.
   */
  get epoch() {
    return this.changes;
  }

  /**
   * Registers an open thing decided at `decidedAt` (an `epoch`); the returned function forgets it
   * (it closed by itself). Decided before the latest change: decided again now.
   */
  add(standing: Standing, decidedAt: number): () => void {
    this.entries.add(standing);
    if (decidedAt !== this.changes) void this.recheck("what it was decided on changed while it opened", false);
    return () => void this.entries.delete(standing);
  }

  get size() {
    return this.entries.size;
  }

  /** Forgets everything (the session ended). */
  clear() {
    this.entries.clear();
    this.pending = null;
  }

  /**
   * Decides every entry again. `change`: an input changed (counted in `epoch`); false when only
   * an entry registered late needs deciding. Never rejects: a failed decision or revocation is
   * handled (and logged) per entry.
   */
  recheck(cause: string, change = true): Promise<void> {
    if (change) this.changes++;
    if (this.running) {
      this.pending = cause;
      return this.running;
    }
    const run = async () => {
      for (let next: string | null = cause; next !== null; next = this.pending) {
        this.pending = null;
        await this.pass(next).catch((err) => console.error("[gateway] deciding standing access again failed:", loggable(err)));
      }
      // Cleared in the same tick as the last look at `pending`: a later cause starts a new run.
      this.running = null;
    };
    this.running = run();
    return this.running;
  }

  /** What `verdictOf` (say, a policy version not yet saved) would end of what stands now; nothing is ended. */
  preview(verdictOf: (request: ClassifiedRequest) => Verdict): { standing: Standing; reason: string }[] {
    const out: { standing: Standing; reason: string }[] = [];
    for (const standing of this.entries) {
      let reason: string | null;
      try {
        reason = revocationReason(standing, verdictOf(standing.request));
      } catch (err) {
        reason = `it could not be decided (${(err as Error).message})`;
      }
      if (reason !== null) out.push({ standing, reason });
    }
    return out;
  }

  private async pass(cause: string) {
    // Insertion order: the session's own `connect` first; when it falls, everything ends with it.
    for (const standing of [...this.entries]) {
      if (!this.entries.has(standing)) continue;
      let verdict: Verdict | null = null;
      let reason: string | null;
      try {
        verdict = await this.verdictNow(standing.request);
        reason = revocationReason(standing, verdict);
      } catch (err) {
        reason = `it could not be decided again (${(err as Error).message})`;
      }
      if (reason === null || !this.entries.delete(standing)) continue;
      // Each step on its own: a failing one neither spares this entry nor stops the next ones.
      attempt(standing, "recording the end of", () => this.onRevoked({ standing, verdict, reason, cause }));
      attempt(standing, "ending", () => standing.revoke(reason));
    }
  }
}

function attempt(standing: Standing, what: string, fn: () => void) {
  try {
    fn();
  } catch (err) {
    console.error(`[gateway] ${what} ${standing.request.action} "${standing.shown}" failed:`, loggable(err));
  }
}
