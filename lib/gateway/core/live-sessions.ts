import { getBus, Topics } from "@/lib/events/bus";
import { getPolicyRuntime } from "@/lib/gateway/policy/runtime";
import { POLICY_POLL_MS } from "@/lib/gateway/policy/sync";
import type { GatewaySession } from "./session";
import type { Principal } from "./types";

/** How often standing decisions (standing.ts) are decided again while the policies read the time. */
const RECHECK_INTERVAL_MS = Number(process.env.GATEHOUSE_RECHECK_INTERVAL_MS) || 60_000;

/**
 * This process's live sessions, and the one place that ends them when the rest of Gatehouse
 * says so: an admin kill, a revoked token (and its delegated descendants), a disabled user;
 * and that brings a changed role or group membership, an edited connection, a new policy version, an ended access
 * grant or (for policies that read the time) the clock to what they hold open (standing.ts).
 * The messages come over the event bus, so a revocation in any process ends sessions in all.
 */
class LiveSessions {
  private readonly byId = new Map<string, GatewaySession>();
  private subscribed = false;

  add(s: GatewaySession) {
    this.byId.set(s.id, s);
    this.subscribe();
  }

  remove(s: GatewaySession) {
    this.byId.delete(s.id);
  }

  get size() {
    return this.byId.size;
  }

  all(): GatewaySession[] {
    return [...this.byId.values()];
  }

  get(id: string) {
    return this.byId.get(id);
  }

  private subscribe() {
    if (this.subscribed) return;
    this.subscribed = true;
    const bus = getBus();
    bus.subscribe<{ sessionId: string; reason?: string; by?: string }>(Topics.sessionKill, ({ sessionId, reason, by }) => {
      this.byId.get(sessionId)?.terminate(reason ?? `session ended by an administrator${by ? ` (${by})` : ""}`);
    });
    bus.subscribe<{ tokenIds: string[] }>(Topics.tokenRevoked, ({ tokenIds }) => {
      const revoked = new Set(tokenIds);
      for (const s of this.all()) if (restsOnRevoked(s.principal, revoked)) s.terminate("the token of this session was revoked");
    });
    // Role or groups changed (or the password; or groups re-synced from an identity provider at
    // login): later requests are decided with them as they are now.
    const refresh = ({ userId }: { userId: string }) => {
      for (const s of this.all()) {
        if (s.principal.userId === userId) void s.refreshPrincipal().catch((err) => s.terminate(`the account changed and could not be re-read (${(err as Error).message})`));
      }
    };
    bus.subscribe(Topics.userChanged, refresh);
    bus.subscribe(Topics.userGroupsSynced, refresh);
    bus.subscribe<{ userId: string }>(Topics.userDisabled, ({ userId }) => {
      for (const s of this.all()) if (s.principal.userId === userId) s.terminate("the account was disabled");
    });
    // Published after commit by removeSshKey (in any process): sessions that logged in with it end.
    bus.subscribe<{ keyId: string }>(Topics.sshKeyRemoved, ({ keyId }) => {
      for (const s of this.all()) if (s.principal.sshKeyId === keyId) s.terminate("the SSH key this session logged in with was removed");
    });
    // A decided access request or a revoked grant changes `grants.active` for policy at once.
    const refreshGrants = () => {
      for (const s of this.all()) s.invalidateGrants();
    };
    bus.subscribe(Topics.approvalDecided, refreshGrants);
    // A revoked grant concerns only its user's sessions on its connection.
    bus.subscribe<{ userId: string; connectionId: string }>(Topics.grantRevoked, ({ userId, connectionId }) => {
      for (const s of this.all()) if (s.principal.userId === userId && s.connection.id === connectionId) s.grantsChanged("an access grant was revoked");
    });
    // A connection edited (its tags) or deleted, in any process.
    bus.subscribe<{ id: string; deleted?: boolean }>(Topics.connectionChanged, ({ id, deleted }) => {
      for (const s of this.all()) {
        if (s.connection.id !== id) continue;
        if (deleted) s.terminate("the connection was deleted");
        else void s.refreshConnection().catch((err) => s.terminate(`the connection changed and could not be re-read (${(err as Error).message})`));
      }
    });
    const runtime = getPolicyRuntime();
    runtime.onInstalled((version) => {
      for (const s of this.all()) void s.standing.recheck(`policy version ${version} was installed`);
    });
    // Across processes a message can be lost (NOTIFY is best effort): then each live session
    // reads again what the messages above would have told it, as often as the policies are compared.
    setInterval(() => {
      if (!bus.bridged) return;
      for (const s of this.all()) void s.resync().catch((err) => console.warn(`[gateway] session ${s.id}: re-reading its inputs failed: ${(err as Error).message}`));
    }, POLICY_POLL_MS).unref();
    setInterval(() => {
      if (!runtime.readsTime) return;
      for (const s of this.all()) void s.standing.recheck("time passed (the policies read the time)");
    }, RECHECK_INTERVAL_MS).unref();
  }
}

export function liveSessions(): LiveSessions {
  const g = globalThis as { __gatehouseLiveSessions?: LiveSessions };
  return (g.__gatehouseLiveSessions ??= new LiveSessions());
}

/**
 * Whether a session's credential is among the revoked tokens or descends from one. The list is
 * the revoked token's descendants as the revoking transaction saw them; a child token committed
 * meanwhile is not in it, but its session still names the revoked ancestor (its parent, or an
 * actor of its chain), and ends too.
 */
export function restsOnRevoked(p: Pick<Principal, "tokenId" | "parentTokenId" | "chain">, revoked: ReadonlySet<string>): boolean {
  if (p.tokenId && revoked.has(p.tokenId)) return true;
  if (p.parentTokenId && revoked.has(p.parentTokenId)) return true;
  return p.chain.some((a) => a.tokenId !== undefined && revoked.has(a.tokenId));
}
