/** Request builders shared by the policy tests and the benchmark. */
import type { Actor, GatewayRequest, PolicyAction, RequestKind } from "@/lib/gateway/core/types";

export interface RequestSpec {
  email?: string;
  role?: "admin" | "approver" | "auditor" | "member";
  groups?: string[];
  /** 0 = the user itself, N = the N-th agent down the chain */
  depth?: number;
  agentNames?: string[];
  action?: PolicyAction;
  kind?: RequestKind;
  tables?: string[];
  functions?: string[];
  text?: string;
  connection?: string;
  connectionId?: string;
  tags?: string[];
  origin?: "native" | "web-console" | "mcp";
  address?: string;
  scopeConnections?: string[];
  scopeActions?: string[];
  grantExpiresAt?: Date;
  now?: Date;
}

export function makeRequest(spec: RequestSpec = {}): GatewayRequest {
  const depth = spec.depth ?? 0;
  const email = spec.email ?? "alice@example.com";
  const chain: Actor[] = [{ kind: "user", id: "u-alice", name: email.split("@")[0]! }];
  for (let i = 0; i < depth; i++) {
    const name = spec.agentNames?.[i] ?? `agent-${i + 1}`;
    chain.push({ kind: "agent", id: name, name });
  }
  const kind = spec.kind ?? "read";
  const connectionId = spec.connectionId ?? "c-1";
  return {
    principal: {
      userId: "u-alice",
      email,
      role: spec.role ?? "member",
      groups: spec.groups ?? ["engineering"],
      chain,
      tokenId: depth > 0 ? "t-1" : null,
      scopeConnections: spec.scopeConnections ?? ["*"],
      scopeActions: spec.scopeActions ?? ["*"],
    },
    connection: { id: connectionId, name: spec.connection ?? "orders-db", type: "postgres", tags: spec.tags ?? [] },
    client: { address: spec.address ?? "127.0.0.1", protocol: "postgres", origin: spec.origin ?? "native" },
    request: {
      action: spec.action ?? (kind === "unknown" ? "write" : kind === "interactive" ? "exec" : kind),
      kind,
      tables: spec.tables ?? ["orders"],
      functions: spec.functions ?? [],
      text: spec.text ?? "SELECT * FROM orders",
    },
    grants: spec.grantExpiresAt ? [{ id: "g-1", connectionId, expiresAt: spec.grantExpiresAt }] : [],
    now: spec.now ?? new Date("2025-03-04T10:30:00Z"),
  };
}
