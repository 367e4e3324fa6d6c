/**
 * GatewayRequest -> Cedar request (principal, action, resource, entities, context).
 *
 * The output is canonical: every Set is sorted and de-duplicated and objects are built with a
 * fixed key order, so two requests Cedar would treat identically serialize identically. The
 * decision cache keys on that serialization (cache.ts), which is what makes "the key covers
 * everything the decision depends on" true by construction rather than by a hand-kept list.
 */
import type { Context, EntityJson, EntityUidJson } from "@cedar-policy/cedar-wasm/nodejs";
import type { ClientInfo, ConnectionRef, GatewayRequest, Principal } from "@/lib/gateway/core/types";
import { deepFreeze } from "@/lib/util/deep-freeze";
import { ENTITY, isPolicyAction } from "./schema";

export interface CedarRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  entities: EntityJson[];
  /** everything except `time`, which is kept apart so the cache can leave it out of the key */
  context: Omit<CedarContext, "time">;
  time: CedarContext["time"];
  /**
   * Names the parts that come from the session's principal, connection and client (principal,
   * resource, entities, context.chain, context.client) when they were sealed (`sealForPolicy`):
   * equal ids, equal parts. null: not sealed, the cache key spells them out.
   */
  sessionPartId: number | null;
}

export interface CedarContext {
  request: { kind: string; tables: string[]; functions: string[]; text: string };
  chain: { depth: number; rootUser: string; actorKinds: string[]; actors: string[]; agentNames: string[] };
  client: { address: string; protocol: string; origin: string };
  time: { hour: number; weekday: number; epoch: number };
  grants: { active: boolean };
}

export type BuildResult = { ok: true; request: CedarRequest } | { ok: false; reason: string };

/**
 * Checks that do not need Cedar and must not be bypassable by a policy: a well-formed actor
 * chain and the credential's own scope (a token scoped to one connection or to read-only stays
 * so even under a permissive policy set).
 */
export function buildCedarRequest(req: GatewayRequest, now: Date): BuildResult {
  const { principal, connection, client, request } = req;
  if (!isPolicyAction(request.action)) return { ok: false, reason: `unknown action ${String(request.action)}` };
  if (!Array.isArray(principal.chain) || principal.chain.length === 0) {
    return { ok: false, reason: "principal has no actor chain" };
  }
  if (!inScope(principal.scopeConnections, connection.name)) {
    return { ok: false, reason: `credential scope does not include connection ${connection.name}` };
  }
  if (!inScope(principal.scopeActions, request.action)) {
    return { ok: false, reason: `credential scope does not include action ${request.action}` };
  }

  const part = sessionPart(principal, connection, client);
  const epochMs = now.getTime();
  return {
    ok: true,
    request: {
      principal: part.principal,
      action: { type: ENTITY.action, id: request.action },
      resource: part.resource,
      entities: part.entities,
      context: {
        request: {
          kind: request.kind,
          tables: canonicalSet(request.tables),
          functions: canonicalSet(request.functions),
          text: request.text ?? "",
        },
        chain: part.chain,
        client: part.client,
        grants: { active: grantActive(req, epochMs) },
      },
      time: { hour: now.getUTCHours(), weekday: now.getUTCDay(), epoch: Math.floor(epochMs / 1000) },
      sessionPartId: part.id,
    },
  };
}

/**
 * Deep-freezes a principal, connection or client so that what Cedar sees of it can be built once
 * per session rather than per statement (a gateway session's own are fixed when it opens).
 * Returns the same object.
 */
export function sealForPolicy<T extends object>(value: T): T {
  deepFreeze(value);
  sealed.add(value);
  return value;
}

interface SessionPart {
  id: number | null;
  principal: EntityUidJson;
  resource: EntityUidJson;
  entities: EntityJson[];
  chain: CedarContext["chain"];
  client: CedarContext["client"];
}

const sealed = new WeakSet<object>();
const parts = new WeakMap<Principal, WeakMap<ConnectionRef, WeakMap<ClientInfo, SessionPart>>>();
/**
 * Part content (its JSON) → id. Ids are never reused: when the table is full it starts afresh
 * and equal parts get a new id, so an id always stood for exactly one content.
 */
const partIds = new Map<string, number>();
const MAX_PART_IDS = 10_000;
let nextPartId = 1;

/** What Cedar sees of the session: memoized (and named by an id) when its three inputs are sealed. */
function sessionPart(principal: Principal, connection: ConnectionRef, client: ClientInfo): SessionPart {
  if (!(sealed.has(principal) && sealed.has(connection) && sealed.has(client))) return buildSessionPart(principal, connection, client, false);
  let byConnection = parts.get(principal);
  if (!byConnection) parts.set(principal, (byConnection = new WeakMap()));
  let byClient = byConnection.get(connection);
  if (!byClient) byConnection.set(connection, (byClient = new WeakMap()));
  let part = byClient.get(client);
  if (!part) byClient.set(client, (part = buildSessionPart(principal, connection, client, true)));
  return part;
}

function buildSessionPart(principal: Principal, connection: ConnectionRef, client: ClientInfo, named: boolean): SessionPart {
  const rootUid = { type: ENTITY.user, id: principal.email };
  const entities: EntityJson[] = [
    {
      uid: rootUid,
      attrs: { email: principal.email, role: principal.role },
      parents: canonicalSet(principal.groups).map((g) => ({ type: ENTITY.group, id: g })),
    },
  ];
  // Agents chain up to the root: agent N's parent is agent N-1 (or the user for N = 1).
  let current: { type: string; id: string } = rootUid;
  for (const actor of principal.chain.slice(1)) {
    const uid = { type: ENTITY.agent, id: `${current.id}/${actor.id}` };
    entities.push({ uid, attrs: { name: actor.name }, parents: [current] });
    current = uid;
  }
  const resource = { type: ENTITY.connection, id: connection.name };
  entities.push({
    uid: resource,
    attrs: { name: connection.name, type: connection.type, tags: canonicalSet(connection.tags) },
    parents: [],
  });
  const agents = principal.chain.slice(1).filter((a) => a.kind === "agent");
  const part: SessionPart = {
    id: null,
    principal: current,
    resource,
    entities,
    chain: {
      depth: principal.chain.length - 1,
      rootUser: principal.email,
      actorKinds: canonicalSet(principal.chain.map((a) => a.kind)),
      actors: canonicalSet(principal.chain.map((a) => a.name)),
      agentNames: canonicalSet(agents.map((a) => a.name)),
    },
    client: { address: client.address, protocol: client.protocol, origin: client.origin },
  };
  if (!named) return part;
  const content = JSON.stringify(part);
  let id = partIds.get(content);
  if (id === undefined) {
    if (partIds.size >= MAX_PART_IDS) partIds.clear();
    partIds.set(content, (id = nextPartId++));
  }
  part.id = id;
  return deepFreeze(part);
}

export function toCedarContext(r: CedarRequest): Context {
  return { ...r.context, time: r.time } as unknown as Context;
}

/** Scope lists use connection names / action names; "*" means any. Empty means nothing. */
function inScope(scope: readonly string[] | undefined, value: string): boolean {
  return Array.isArray(scope) && (scope.includes("*") || scope.includes(value));
}

function grantActive(req: GatewayRequest, epochMs: number): boolean {
  return (req.grants ?? []).some(
    (g) => g.connectionId === req.connection.id && new Date(g.expiresAt).getTime() > epochMs,
  );
}

function canonicalSet(values: readonly string[] | undefined): string[] {
  return [...new Set(values ?? [])].sort();
}
