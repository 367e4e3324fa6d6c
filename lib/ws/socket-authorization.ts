import type { WebSocket } from "ws";
import type { Caller } from "@/lib/auth/caller";
import { getBus, Topics } from "@/lib/events/bus";
import { POLICY_POLL_MS } from "@/lib/gateway/policy/sync";

/** The close code a client must not retry on: the credential no longer lets it in. */
export const AUTHORIZATION_ENDED = 4401;

/**
 * Authorization was checked at upgrade; a socket must not outlive it, whichever credential opened
 * it. Disabling the user, changing their role or password, signing out (session version), or
 * revoking the token closes it at once (bus events); so does the credential's expiry — the console
 * cookie's `exp` (12 hours after sign-in) as much as a five-minute agent token's.
 *
 * Events between processes travel over NOTIFY, which can be lost; and the permission the route
 * needs may have gone with a change that published nothing this socket listens for. So the upgrade's
 * checks (`stillAuthorized`: the credential, the route's permission, the object) run again every
 * POLICY_POLL_MS: refused closes it. A check that fails (the database unreachable) closes it too,
 * with a code clients retry on, rather than leave it open unchecked.
 */
export function closeWhenAuthorizationEnds(ws: WebSocket, caller: Caller, stillAuthorized: () => Promise<boolean>) {
  const bus = getBus();
  const close = (reason = "authorization ended") => ws.close(AUTHORIZATION_ENDED, reason);
  const offs = [
    bus.subscribe<{ userId: string }>(Topics.userDisabled, (d) => d.userId === caller.userId && close()),
    bus.subscribe<{ userId: string }>(Topics.userChanged, (d) => d.userId === caller.userId && close()),
    bus.subscribe<{ tokenIds: string[] }>(Topics.tokenRevoked, (d) => !!caller.principal?.tokenId && d.tokenIds.includes(caller.principal.tokenId) && close()),
  ];
  const expiresAt = (caller.principal?.expiresAt ?? caller.sessionExpiresAt)?.getTime();
  if (expiresAt !== undefined) {
    const reason = caller.via === "session" ? "console session expired" : "token expired";
    // setTimeout fires at once past 2^31-1 ms (~24.8 days): re-arm in steps for longer-lived tokens.
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = expiresAt - Date.now();
      if (left <= 0) return close(reason);
      timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
    };
    arm();
    offs.push(() => clearTimeout(timer));
  }
  let checking = false;
  const recheck = setInterval(() => {
    if (checking || ws.readyState !== ws.OPEN) return;
    checking = true;
    stillAuthorized()
      .then((yes) => yes || close())
      .catch(() => ws.close(1013, "authorization could not be checked"))
      .finally(() => (checking = false));
  }, POLICY_POLL_MS);
  offs.push(() => clearInterval(recheck));
  ws.on("close", () => offs.forEach((off) => off()));
}
