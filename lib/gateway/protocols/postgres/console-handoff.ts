import { randomBytes } from "node:crypto";
import type { Principal } from "@/lib/gateway/core/types";

/**
 * How the console's SQL page reaches a database through the same path as psql. Its server side
 * is a PostgreSQL client of this process's own gateway port; instead of a Gatehouse token it
 * logs in with a one-time secret issued here for the person at the browser. The handshake takes
 * the secret back (takeHandoff) and opens the session for that principal with origin
 * `web-console` and the browser's address, so that policy, holds, masking and recording see
 * the console user exactly as they see a native client, and every check of the gateway applies.
 *
 * A secret lives in this process's memory only, is 256 random bits, names one connection and
 * one user, and is taken at most once within HANDOFF_TTL_MS: nothing outside this process can
 * learn or reuse one.
 */
const PREFIX = "gatehouse-console:";
const HANDOFF_TTL_MS = 30_000;

export interface Handoff {
  principal: Principal;
  /** the browser's address, as the session records it */
  address: string;
  connection: string;
  /** told the id of the session the handshake opened */
  opened(sessionId: string): void;
}

const g = globalThis as { __gatehouseConsoleHandoffs?: Map<string, { handoff: Handoff; expires: number }>; __gatehousePgListening?: Listening | null };
const pending = (g.__gatehouseConsoleHandoffs ??= new Map());

export interface Listening {
  host: string;
  port: number;
  /** the gateway's certificate, to pin when `host` is not loopback (the gateway requires TLS there) */
  cert: string | null;
}

/** Where this process's PostgreSQL gateway listens; null when it does not run here. */
export const gatewayListening = (): Listening | null => g.__gatehousePgListening ?? null;

export function setGatewayListening(at: Listening | null) {
  g.__gatehousePgListening = at;
}

/** A password that logs `handoff.principal` into `handoff.connection`, once, within HANDOFF_TTL_MS. */
export function issueHandoff(handoff: Handoff): string {
  const now = Date.now();
  for (const [k, v] of pending) if (v.expires <= now) pending.delete(k);
  const secret = `${PREFIX}${randomBytes(32).toString("base64url")}`;
  pending.set(secret, { handoff, expires: now + HANDOFF_TTL_MS });
  return secret;
}

/** The handoff a startup password names, consumed; null when it names none (a token, or a spent or expired secret). */
export function takeHandoff(password: string, connection: string, user: string): Handoff | null {
  if (!password.startsWith(PREFIX)) return null;
  const entry = pending.get(password);
  pending.delete(password);
  if (!entry || entry.expires <= Date.now()) return null;
  const { handoff } = entry;
  return handoff.connection === connection && handoff.principal.email === user ? handoff : null;
}

/** Whether a startup password is a handoff secret: a refused one must not be tried as a token. */
export const isHandoffSecret = (password: string) => password.startsWith(PREFIX);
