import type { AccessGrant } from "./types";

const GRANTS_TTL_MS = 5_000;

/**
 * A session's view of its user's access grants on its connection (`GatewayRequest.grants`):
 * read at most every few seconds, re-read at once after a change, and watched for the first
 * expiry, because a grant running out changes decisions as much as a revoked one.
 */
export class SessionGrants {
  private cached: { at: number; list: AccessGrant[] } | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private generation = 0;

  constructor(
    private readonly load: () => Promise<AccessGrant[]>,
    /** the first of the grants read last has expired */
    private readonly onExpired: () => void,
  ) {}

  /**
   * `staleOk`: when the database cannot be read, the grants read last will do, unless a change
   * was announced since (for rechecks of what stands on a clock tick or a policy change: a
   * database blip should not end every open shell when the grants did not change).
   */
  async current(opts: { staleOk?: boolean } = {}): Promise<AccessGrant[]> {
    if (this.cached && Date.now() - this.cached.at < GRANTS_TTL_MS) return this.cached.list;
    const generation = this.generation;
    const last = this.cached;
    let list: AccessGrant[];
    try {
      list = await this.load();
    } catch (err) {
      if (opts.staleOk && last && generation === this.generation) return last.list;
      throw err;
    }
    // A read that began before a change may have missed it: used by its caller, never kept.
    if (generation === this.generation) {
      this.cached = { at: Date.now(), list };
      this.watchExpiry(list);
    }
    return list;
  }

  /** Something changed (an approval decided, a grant revoked): the next read goes to the database. */
  invalidate() {
    this.generation++;
    this.cached = null;
  }

  stop() {
    this.stopped = true;
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
  }

  private watchExpiry(list: AccessGrant[]) {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    if (this.stopped || !list.length) return;
    const ms = Math.min(...list.map((g) => g.expiresAt.getTime())) - Date.now();
    if (ms > 2 ** 31 - 1) return; // beyond setTimeout's range (> 24 days)
    // A moment after: the grant counts as active up to its expiry instant.
    this.expiryTimer = setTimeout(() => {
      this.cached = null;
      this.onExpired();
    }, Math.max(0, ms) + 50);
    this.expiryTimer.unref();
  }
}
