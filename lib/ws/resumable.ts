import type { Caller } from "@/lib/auth/caller";

/**
 * Server-side sessions a browser comes back to after a network loss — the browser SSH terminal
 * and the SQL console keep their upstream session for a grace period and are found again by a
 * resume token. The token travels in the WebSocket URL, so it is honoured only for the
 * credential that opened the session: the same user with the same token (or the console cookie),
 * and for the same connection. The session runs with its opener's principal: a delegated agent
 * of that user that learnt the token must not take over its human's shell or transaction.
 */
export interface Resumable {
  readonly resumeToken: string;
  readonly isFinished: boolean;
}

/** Which credential a caller holds: its token, or the console session. */
export const credentialOf = (caller: Caller) => `${caller.userId}|${caller.principal?.tokenId ?? "console"}`;

export class ResumeRegistry<T extends Resumable> {
  private readonly byToken = new Map<string, { item: T; credential: string; connection: string }>();

  add(item: T, caller: Caller, connection: string) {
    this.byToken.set(item.resumeToken, { item, credential: credentialOf(caller), connection });
  }

  /** The live session this caller may resume on this connection, or undefined (unknown, ended or someone else's). */
  find(token: string, caller: Caller, connection: string): T | undefined {
    const entry = this.byToken.get(token);
    if (!entry || entry.item.isFinished || entry.credential !== credentialOf(caller) || entry.connection !== connection) return undefined;
    return entry.item;
  }

  delete(item: T) {
    if (this.byToken.get(item.resumeToken)?.item === item) this.byToken.delete(item.resumeToken);
  }

  get size() {
    return this.byToken.size;
  }
}

/** One registry per kind for the whole process (the API routes and the server share it). */
export function resumeRegistry<T extends Resumable>(kind: string): ResumeRegistry<T> {
  const g = globalThis as { __gatehouseResumable?: Map<string, ResumeRegistry<Resumable>> };
  const all = (g.__gatehouseResumable ??= new Map());
  let registry = all.get(kind);
  if (!registry) all.set(kind, (registry = new ResumeRegistry()));
  return registry as unknown as ResumeRegistry<T>;
}
