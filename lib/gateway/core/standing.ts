import type { ClassifiedRequest, Verdict } from "./types";

/**
 * Standing decisions: what is decided once and then stays open — the session itself
 * (`connect`), a shell or exec, a port forward, agent or X11 forwarding. A statement is decided
 * when it runs; these would otherwise outlive what they were decided on. Each is decided again,
 * without holding, whenever one of those inputs changes (the user's role or groups, the policy
 * version, the user's access grants, the clock when the policies read it), and ended when the
 * answer would not let it open now:
 *   - deny: ended, with the policy's reason;
 *   - hold: ended, unless an approval let it open (the approval stands for what it approved);
 *   - allow or mask: stands, unless its stream (a shell's output) now needs masking it was not
 *     opened under: that stream is already flowing.
 * A decision that fails ends it (fail closed).
 */
export interface Standing {
  request: ClassifiedRequest;
  /** the recorded request it was decided by */
  requestSeq: number;
  /** an approval let it open */
  approved: boolean;
  /**
   * the masking rule sets its stream was opened under; null when nothing it carries is masked
   * (the session itself, whose statements are decided one by one; a forward's bytes)
   */
  ruleSets: readonly string[] | null;
  /** ends it, telling its user why; called at most once */
  revoke(reason: string): void;
}

/** null when the standing decision still stands under `verdict`, else why it does not. */
export function revocationReason(standing: Pick<Standing, "approved" | "ruleSets">, verdict: Verdict): string | null {
  switch (verdict.type) {
    case "deny":
      return verdict.reason;
    case "hold":
      if (!standing.approved) return "it now needs an approval";
      return moreMasking(standing.ruleSets, verdict.maskRuleSets);
    case "mask":
      return moreMasking(standing.ruleSets, verdict.ruleSets);
    case "allow":
      return null;
  }
}

function moreMasking(had: readonly string[] | null, now: readonly string[]): string | null {
  if (had === null) return null;
  const added = now.filter((r) => !had.includes(r));
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
 * on its own inputs.
 */
export class StandingDecisions {
  private readonly entries = new Set<Standing>();
  private running: Promise<void> | null = null;
  private pending: string | null = null;

  constructor(
    /** the policy's answer now, with the session's current inputs; a throw ends the entry */
    private readonly verdictNow: (request: ClassifiedRequest) => Promise<Verdict>,
    /** records the revocation; called before `standing.revoke` */
    private readonly onRevoked: (r: Revocation) => void,
  ) {}

  /** Registers an open thing; the returned function forgets it (it closed by itself). */
  add(standing: Standing): () => void {
    this.entries.add(standing);
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

  recheck(cause: string): Promise<void> {
    if (this.running) {
      this.pending = cause;
      return this.running;
    }
    const run = async () => {
      let next: string | null = cause;
      while (next !== null) {
        this.pending = null;
        await this.pass(next);
        next = this.pending;
      }
    };
    this.running = run().finally(() => (this.running = null));
    return this.running;
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
      this.onRevoked({ standing, verdict, reason, cause });
      standing.revoke(reason);
    }
  }
}
