import { getBus, Topics } from "@/lib/events/bus";
import type { GatewaySession } from "./session";

/**
 * This process's live sessions, and the one place that ends them when the rest of Gatehouse
 * says so: an admin kill, a revoked token (and its delegated descendants), a disabled user;
 * and that brings a changed role or group membership to them.
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
      for (const s of this.all()) if (s.principal.tokenId && revoked.has(s.principal.tokenId)) s.terminate("the token of this session was revoked");
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
    bus.subscribe(Topics.grantRevoked, refreshGrants);
  }
}

export function liveSessions(): LiveSessions {
  const g = globalThis as { __gatehouseLiveSessions?: LiveSessions };
  return (g.__gatehouseLiveSessions ??= new LiveSessions());
}
