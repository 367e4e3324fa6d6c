import { NextResponse } from "next/server";
import { ZodError } from "zod";
import { isStoreUnavailable, STORE_UNAVAILABLE } from "@/db/unavailable";
import { authorize, type Permission } from "@/lib/auth/authorize";
import type { Caller } from "@/lib/auth/caller";
import { callerFromRequest } from "@/lib/auth/session";
import { GatehouseError, type ErrorCode } from "@/lib/gateway/core/types";
import { loggable } from "@/lib/util/loggable";

/**
 * The one wrapper for every route handler under /api/v1: authenticate, check the permission,
 * refuse cross-site state changes, then run the handler and map errors once. A route whose
 * exported method does not go through `route(...)` or `publicRoute(...)` fails the route test.
 */
type Ctx<P> = { params: Promise<P> };
type Handler<P> = (req: Request, caller: Caller, params: P) => Promise<unknown>;

export function route<P = Record<string, string>>(permission: Permission, handler: Handler<P>) {
  return async (req: Request, ctx: Ctx<P>) => {
    try {
      const caller = await callerFromRequest(req);
      authorize(caller, permission);
      if (caller!.via === "session") assertSameOrigin(req);
      return noStore(toResponse(await handler(req, caller!, (await ctx?.params) ?? ({} as P))));
    } catch (err) {
      return noStore(errorResponse(err));
    }
  };
}

/** For the few endpoints that authenticate themselves (login, token exchange). */
export function publicRoute<P = Record<string, string>>(handler: (req: Request, params: P) => Promise<unknown>) {
  return async (req: Request, ctx: Ctx<P>) => {
    try {
      return noStore(toResponse(await handler(req, (await ctx?.params) ?? ({} as P))));
    } catch (err) {
      return noStore(errorResponse(err));
    }
  };
}

const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** CSRF: a cookie-authenticated state change must come from our own origin. */
function assertSameOrigin(req: Request) {
  if (!UNSAFE.has(req.method)) return;
  const origin = req.headers.get("origin");
  const host = req.headers.get("host");
  if (!origin || !host) throw new GatehouseError("FORBIDDEN", "cross-site request refused (missing Origin)");
  let originHost: string;
  try {
    originHost = new URL(origin).host;
  } catch {
    throw new GatehouseError("FORBIDDEN", "cross-site request refused");
  }
  if (originHost !== host) throw new GatehouseError("FORBIDDEN", "cross-site request refused");
}

/**
 * API answers carry recordings, tokens, audit rows and policy: none may stay in a browser's disk
 * cache, which outlives the sign-out and any later loss of access. A handler that may be cached
 * (a finished replay window) says so itself.
 */
function noStore(res: Response): Response {
  if (!res.headers.has("cache-control")) res.headers.set("cache-control", "no-store");
  return res;
}

function toResponse(result: unknown): Response {
  if (result instanceof Response) return result;
  return NextResponse.json(result ?? { ok: true });
}

const STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  INVALID: 400,
  CONFLICT: 409,
  HELD: 202,
  DENIED: 403,
  RATE_LIMITED: 429,
  UNAVAILABLE: 503,
};

export function errorResponse(err: unknown): Response {
  if (err instanceof GatehouseError) {
    return NextResponse.json({ error: { code: err.code, message: err.message, ...(err.detail ? { detail: err.detail } : {}) } }, { status: STATUS[err.code] });
  }
  if (err instanceof ZodError) {
    return NextResponse.json({ error: { code: "INVALID", message: err.issues.map((i) => `${i.path.join(".") || "input"}: ${i.message}`).join("; ") } }, { status: 400 });
  }
  if (err instanceof SyntaxError) return NextResponse.json({ error: { code: "INVALID", message: "request body is not valid JSON" } }, { status: 400 });
  if (isStoreUnavailable(err)) return NextResponse.json({ error: { code: "UNAVAILABLE", message: STORE_UNAVAILABLE } }, { status: 503, headers: { "retry-after": "5" } });
  // Internal causes are logged, never shown.
  console.error("[api] unexpected error:", loggable(err));
  return NextResponse.json({ error: { code: "INTERNAL", message: "internal error" } }, { status: 500 });
}

export async function jsonBody(req: Request): Promise<unknown> {
  const text = await bodyText(req, 1_000_000);
  return text ? JSON.parse(text) : {};
}

/**
 * The body as text, refused once it passes `maxBytes`: by its Content-Length before reading, or
 * while reading (chunked). Reading it all and then measuring let anyone, signed in or not (login,
 * token exchange), make the process hold bodies of any size, or wait forever for one announced.
 */
export async function bodyText(req: Request, maxBytes: number): Promise<string> {
  const tooLarge = () => new GatehouseError("INVALID", "request body too large");
  const declared = Number(req.headers.get("content-length") ?? "");
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  if (!req.body) return "";
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      void reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString("utf8");
}
