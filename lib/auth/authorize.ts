import { GatehouseError, type Role } from "@/lib/gateway/core/types";
import type { Caller } from "./caller";

/**
 * The one permission table. Every route handler, server action, WebSocket and service asks
 * `can(caller, permission, object)`. Object checks (ownership) live here too, so an IDOR fix is
 * one line in one place.
 */
export type Permission =
  | "connections:read" // names, types, tags (everyone signed in: they need to know what to connect to)
  | "connections:write"
  | "users:read"
  | "users:write"
  | "groups:write"
  | "tokens:own" // create / list / revoke one's own tokens
  | "tokens:any" // list / revoke anyone's
  | "ssh-keys:own" // add / list / remove one's own SSH public keys; another user's needs users:write
  | "audit:read"
  | "audit:rotate" // rotate the audit chain's key (admins only)
  | "policies:read"
  | "policies:write"
  | "masking:read"
  | "masking:write"
  | "approvals:read"
  | "approvals:decide"
  | "approvals:request"
  | "sessions:read-own"
  | "sessions:read-all"
  | "sessions:kill"
  | "gateway:use";

const ROLE_PERMISSIONS: Record<Role, ReadonlySet<Permission>> = {
  member: new Set(["connections:read", "tokens:own", "ssh-keys:own", "approvals:request", "sessions:read-own", "gateway:use", "approvals:read", "policies:read", "masking:read"]),
  auditor: new Set(["connections:read", "tokens:own", "ssh-keys:own", "approvals:request", "sessions:read-own", "gateway:use", "approvals:read", "policies:read", "masking:read", "audit:read", "sessions:read-all", "users:read"]),
  approver: new Set(["connections:read", "tokens:own", "ssh-keys:own", "approvals:request", "sessions:read-own", "gateway:use", "approvals:read", "policies:read", "masking:read", "approvals:decide", "sessions:read-all", "users:read"]),
  admin: new Set<Permission>([
    "connections:read", "connections:write", "users:read", "users:write", "groups:write", "tokens:own", "tokens:any", "ssh-keys:own", "audit:read", "audit:rotate",
    "policies:read", "policies:write", "masking:read", "masking:write", "approvals:read", "approvals:decide", "approvals:request",
    "sessions:read-own", "sessions:read-all", "sessions:kill", "gateway:use",
  ]),
};

/** An object the permission is exercised on; `ownerId` enables "own" checks. */
export interface ObjectRef {
  ownerId?: string | null;
}

export function can(caller: Caller | null, permission: Permission, object?: ObjectRef): boolean {
  if (!caller) return false;
  const perms = ROLE_PERMISSIONS[caller.role];
  if (!perms) return false;
  // A delegated agent token manages at most its own descendants; it never administers the
  // console. Nor does a token narrowed to some connections or actions: it was made to reach
  // those, and the role's whole API would make a leaked script token an admin's.
  if (caller.principal && isNarrowed(caller.principal) && !AGENT_ALLOWED.has(permission)) return false;
  if (permission === "tokens:own" || permission === "sessions:read-own") {
    if (!perms.has(permission)) return false;
    if (object && object.ownerId !== caller.userId) {
      // Someone else's needs the role's "any" permission, asked through can() so a narrowed token
      // (which never holds it) does not read every user's sessions by id while listing its own.
      return can(caller, permission === "tokens:own" ? "tokens:any" : "sessions:read-all");
    }
    return true;
  }
  if (permission === "ssh-keys:own") {
    // A key opens SSH sessions as its owner: registering one for someone else is user administration.
    if (!perms.has(permission)) return false;
    return !object || object.ownerId === caller.userId || perms.has("users:write");
  }
  return perms.has(permission);
}

/** A delegated token, or a personal one scoped to some connections or actions. */
export function isNarrowed(p: NonNullable<Caller["principal"]>): boolean {
  return p.chain.length > 1 || !p.scopeConnections.includes("*") || !p.scopeActions.includes("*");
}

/** What a delegated or narrowed token may do on the API: reach infrastructure, manage what it minted, ask for access. */
const AGENT_ALLOWED: ReadonlySet<Permission> = new Set(["connections:read", "tokens:own", "approvals:request", "gateway:use", "sessions:read-own", "approvals:read"]);

export function requireCaller(caller: Caller | null): Caller {
  if (!caller) throw new GatehouseError("UNAUTHENTICATED", "sign in or present a bearer token");
  return caller;
}

export function authorize(caller: Caller | null, permission: Permission, object?: ObjectRef): Caller {
  const c = requireCaller(caller);
  if (!can(c, permission, object)) throw new GatehouseError("FORBIDDEN", `not allowed: ${permission}`);
  return c;
}

export const ROLES: readonly Role[] = ["admin", "approver", "auditor", "member"];
