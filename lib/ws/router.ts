import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { can, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { callerFromBearer, callerFromCookieHeader } from "@/lib/auth/session";
import { GatehouseError } from "@/lib/gateway/core/types";
import { closeWhenAuthorizationEnds } from "./socket-authorization";
import { openSockets } from "@/lib/auth/caller-caps";
import { clientAddressOf } from "@/lib/http/client-address";

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
    const { authorization, cookie } = req.headers;
    // A refused bearer token is audited (api.auth_failed), at the upgrade as at a later recheck.
    const from = { address: clientAddressOf(req.headers), method: "GET", path: url.pathname };
    const authenticate = () => (authorization ? callerFromBearer(authorization, from) : callerFromCookieHeader(cookie));
    let caller: Caller | null = null;
    try {
      caller = await authenticate();
    } catch {
      caller = null;
    }
    if (!caller) return refuse(401, "Unauthorized");
    if (caller.via === "session" && !sameOrigin(req)) return refuse(403, "Forbidden");
    if (!can(caller, route.permission)) return refuse(403, "Forbidden");
    if (route.authorizeObject && !(await route.authorizeObject(caller, match, url).catch(() => false))) return refuse(403, "Forbidden");
    wss.handleUpgrade(req, socket, head, (ws) => {
      // Counted once open (the callback runs only for a completed upgrade), freed when it closes.
      const release = openSockets.acquire(caller!);
      if (!release) return ws.close(1008, `too many open WebSockets for this caller (at most ${openSockets.limit()})`);
      ws.once("close", release);
      closeWhenAuthorizationEnds(ws, caller!, async () => {
        // A refused credential (expired, revoked) is an answer; anything else (the database) is not.
        const now = await authenticate().catch((err) => (err instanceof GatehouseError && err.code !== "UNAVAILABLE" ? null : Promise.reject(err)));
        // The same person with the same role: a changed role is re-decided by a new upgrade.
        return !!now && now.userId === caller!.userId && now.role === caller!.role && can(now, route.permission) && (!route.authorizeObject || (await route.authorizeObject(now, match, url)));
      });
      route.onConnection(ws, caller!, match, url);
    });
    return;
  }
  refuse(404, "Not Found");
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
