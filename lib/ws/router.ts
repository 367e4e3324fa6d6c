import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { can, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { callerFromBearer, callerFromCookieHeader } from "@/lib/auth/session";
import { clientAddressOf } from "@/lib/http/client-address";
import { getBus, Topics } from "@/lib/events/bus";

/**
 * WebSocket upgrades under /ws/... . Every route declares the permission it needs; the router
 * authenticates (console cookie or bearer), checks the permission and the Origin (a cross-site
 * page must not open a socket with the user's cookie), and only then upgrades. Object-level
 * checks (may this caller watch *this* session?) happen in the route's `accept`, before any data.
 */
export interface WsRoute {
  pattern: RegExp;
  permission: Permission;
  /** return false (or throw) to refuse after authentication; called before the upgrade completes */
  authorizeObject?(caller: Caller, match: RegExpExecArray, url: URL): Promise<boolean>;
  onConnection(ws: WebSocket, caller: Caller, match: RegExpExecArray, url: URL): void;
}

const g = globalThis as { __gatehouseWsRoutes?: WsRoute[] };
const routes: WsRoute[] = (g.__gatehouseWsRoutes ??= []);

export function registerWsRoute(route: WsRoute) {
  routes.push(route);
}

const wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });

export async function handleWsUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  const url = new URL(req.url ?? "/", "http://localhost");
  const refuse = (status: number, text: string) => {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  };
  for (const route of routes) {
    const match = route.pattern.exec(url.pathname);
    if (!match) continue;
    let caller: Caller | null = null;
    try {
      caller = req.headers.authorization
        ? await callerFromBearer(req.headers.authorization, { address: clientAddressOf(req.headers), method: "GET", path: url.pathname })
        : await callerFromCookieHeader(req.headers.cookie);
    } catch {
      caller = null;
    }
    if (!caller) return refuse(401, "Unauthorized");
    if (caller.via === "session" && !sameOrigin(req)) return refuse(403, "Forbidden");
    if (!can(caller, route.permission)) return refuse(403, "Forbidden");
    if (route.authorizeObject && !(await route.authorizeObject(caller, match, url).catch(() => false))) return refuse(403, "Forbidden");
    wss.handleUpgrade(req, socket, head, (ws) => {
      closeOnRevocation(ws, caller!);
      route.onConnection(ws, caller!, match, url);
    });
    return;
  }
  refuse(404, "Not Found");
}

/**
 * Authorization was checked at upgrade; a socket must not outlive it. Disabling the user,
 * changing their role or password (session version), or revoking the token closes it at once;
 * so does the token's expiry — a five-minute agent token must not watch sessions for a day.
 */
function closeOnRevocation(ws: WebSocket, caller: Caller) {
  const bus = getBus();
  const close = () => ws.close(4401, "authorization ended");
  const offs = [
    bus.subscribe<{ userId: string }>(Topics.userDisabled, (d) => d.userId === caller.userId && close()),
    bus.subscribe<{ userId: string }>(Topics.userChanged, (d) => d.userId === caller.userId && close()),
    bus.subscribe<{ tokenIds: string[] }>(Topics.tokenRevoked, (d) => !!caller.principal?.tokenId && d.tokenIds.includes(caller.principal.tokenId) && close()),
  ];
  const expiresAt = caller.principal?.expiresAt?.getTime();
  if (expiresAt !== undefined) {
    // setTimeout fires at once past 2^31-1 ms (~24.8 days): re-arm in steps for longer-lived tokens.
    let timer: NodeJS.Timeout;
    const arm = () => {
      const left = expiresAt - Date.now();
      if (left <= 0) return close();
      timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
    };
    arm();
    offs.push(() => clearTimeout(timer));
  }
  ws.on("close", () => offs.forEach((off) => off()));
}

function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (!origin) return false;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

export function closeAllSockets(reason = "server shutting down") {
  for (const client of wss.clients) client.close(1001, reason);
}
