import type { WebSocket } from "ws";
import type { Caller } from "@/lib/auth/caller";
import { getBus, Topics } from "@/lib/events/bus";
import { restsOnRevoked } from "@/lib/gateway/core/live-sessions";
import { POLICY_POLL_MS } from "@/lib/gateway/policy/sync";

/** The close code a client must not retry on: the credential no longer lets it in. */
export const AUTHORIZATION_ENDED = 4401;

/**
 * Authorization was checked at upgrade; a socket must not outlive it, whichever credential opened
 * it. Disabling the user or revoking the token closes it at once; a change of the user (role,
 * password, sign-out: the session version; groups) has the upgrade's checks run again at once,
 * which end a console cookie's socket and a token's whose role changed, and keep one whose user
 * only changed groups. The credential's expiry closes it too — the console cookie's `exp` (12
 * hours after sign-in) as much as a five-minute agent token's.
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
  // One check at a time; a change announced during one is checked again after it (the running
  // check may have read the row before the change).
  let checking = false;
  let again = false;
  const recheck = () => {
    if (ws.readyState !== ws.OPEN) return;
    if (checking) return void (again = true);
    checking = true;
    stillAuthorized()
      .then((yes) => yes || close())
      .catch(() => ws.close(1013, "authorization could not be checked"))
      .finally(() => {
        checking = false;
        if (again) {
          again = false;
          recheck();
        }
      });
  };
  const offs = [
    bus.subscribe<{ userId: string }>(Topics.userDisabled, (d) => d.userId === caller.userId && close()),
    // Role, password, sign-out (the session version) or groups: decided again at once. A change of
    // groups alone keeps the socket (and the browser terminal on it); the others end it.
    bus.subscribe<{ userId: string }>(Topics.userChanged, (d) => d.userId === caller.userId && recheck()),
    // As for gateway sessions: also a token below a revoked one that the cascade's list missed (committed meanwhile).
    bus.subscribe<{ tokenIds: string[] }>(Topics.tokenRevoked, (d) => !!caller.principal && restsOnRevoked(caller.principal, new Set(d.tokenIds)) && close()),
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
  const poll = setInterval(recheck, POLICY_POLL_MS);
  offs.push(() => clearInterval(poll));
  ws.on("close", () => offs.forEach((off) => off()));
}
