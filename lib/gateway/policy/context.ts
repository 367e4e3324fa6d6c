/**
 * GatewayRequest -> Cedar request (principal, action, resource, entities, context).
 *
 * The output is canonical: every Set is sorted and de-duplicated and objects are built with a
 * fixed key order, so two requests Cedar would treat identically serialize identically. The
 * decision cache keys on that serialization (cache.ts), which is what makes "the key covers
 * everything the decision depends on" true by construction rather than by a hand-kept list.
 */
import type { Context, EntityJson, EntityUidJson } from "@cedar-policy/cedar-wasm/nodejs";
import type { GatewayRequest } from "@/lib/gateway/core/types";
import { ENTITY, isPolicyAction } from "./schema";

export interface CedarRequest {
  principal: EntityUidJson;
  action: EntityUidJson;
  resource: EntityUidJson;
  entities: EntityJson[];
  /** everything except `time`, which is kept apart so the cache can leave it out of the key */
  context: Omit<CedarContext, "time">;
  time: CedarContext["time"];
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
  const epochMs = now.getTime();
  return {
    ok: true,
    request: {
      principal: current,
      action: { type: ENTITY.action, id: request.action },
      resource,
      entities,
      context: {
        request: {
          kind: request.kind,
          tables: canonicalSet(request.tables),
          functions: canonicalSet(request.functions),
          text: request.text ?? "",
        },
        chain: {
          depth: principal.chain.length - 1,
          rootUser: principal.email,
          actorKinds: canonicalSet(principal.chain.map((a) => a.kind)),
          actors: canonicalSet(principal.chain.map((a) => a.name)),
          agentNames: canonicalSet(agents.map((a) => a.name)),
        },
        client: { address: client.address, protocol: client.protocol, origin: client.origin },
        grants: { active: grantActive(req, epochMs) },
      },
      time: { hour: now.getUTCHours(), weekday: now.getUTCDay(), epoch: Math.floor(epochMs / 1000) },
    },
  };
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
