/**
 * The protocol-independent vocabulary of the core pipeline. Protocol adapters build a
 * `GatewayRequest`, the policy engine answers with a `Verdict`, and the adapter obeys it.
 * `Verdict` is a closed union: there is no "continue on error" member on purpose.
 */

import type { Masker, MaskingRule } from "@/lib/gateway/masking";

export type ActorKind = "user" | "service" | "agent";

/** One link of a delegation chain. chain[0] is the root (a human or service account). */
export interface Actor {
  kind: ActorKind;
  /** user id for users, agent name for agents */
  id: string;
  name: string;
  tokenId?: string;
}

export type Role = "admin" | "approver" | "auditor" | "member";

export interface Principal {
  userId: string;
  email: string;
  role: Role;
  groups: string[];
  /** root first, current actor last; length 1 for a plain user token */
  chain: Actor[];
  tokenId: string | null;
  /** when gateway sessions opened with it end: the credential's expiry (a ticket's: that of the token it was minted from) */
  expiresAt?: Date;
  /** personal | login | delegated | ticket */
  credentialKind?: string;
  /** the registered SSH key the session logged in with (no token then); removing it ends the session */
  sshKeyId?: string;
  /** the token this one was exchanged from (delegation), for session lineage */
  parentTokenId?: string | null;
  /** connection names this credential may reach; ["*"] = any */
  scopeConnections: string[];
  /** actions this credential may perform; ["*"] = any */
  scopeActions: string[];
}

export type Protocol = "postgres" | "mysql" | "ssh" | "kubernetes" | "http" | "mcp";
export type Origin = "native" | "web-console" | "mcp";

/** `interactive`: a shell, whose commands cannot be decided one by one (decided when it opens). */
export type RequestKind = "read" | "write" | "ddl" | "admin" | "interactive" | "unknown";

/** `forward`: SSH port, agent or X11 forwarding (refused unless a policy permits it). */
export type PolicyAction = "connect" | "read" | "write" | "ddl" | "admin" | "exec" | "http" | "tool" | "forward";

export interface ConnectionRef {
  id: string;
  name: string;
  type: "postgres" | "mysql" | "ssh" | "kubernetes" | "http";
  tags: string[];
}

export interface ClassifiedRequest {
  action: PolicyAction;
  kind: RequestKind;
  tables: string[];
  functions: string[];
  /** exactly what will run (statement text, command line, method + path) */
  text: string;
  /**
   * `text` as the recording, live viewers and approvers see it, when it carries a credential (a
   * role's password): what runs, what policy decides on and what an approval binds stay `text`
   */
  shown?: string;
  /**
   * why `kind` is more than the text says, when the upstream decided it (a statement that runs
   * code written in the database, a catalog that could not be read): shown in a refusal and recorded
   */
  kindWhy?: string;
  /** bound parameters, if any; part of the approval binding */
  params?: (string | null)[];
  /**
   * what it returns cannot be masked — file bytes over SFTP or the scp/rsync protocols
   * (`transfer`), output the command re-encodes or cuts up (`transform`): where masking applies,
   * the core refuses it rather than let the data through raw or mangled
   */
  unmaskable?: "transfer" | "transform";
  /**
   * where masking applies, why the request is refused under the rules that apply, or null: a
   * SQL statement that filters, sorts or joins on a column a rule with `blockInference` masks
   * reveals its values without returning them (postgres/inference.ts)
   */
  inference?: (rules: readonly MaskingRule[], masker: Masker) => Promise<string | null>;
}

export interface ClientInfo {
  address: string;
  protocol: Protocol;
  origin: Origin;
}

export interface AccessGrant {
  id: string;
  connectionId: string;
  expiresAt: Date;
}

export interface GatewayRequest {
  principal: Principal;
  connection: ConnectionRef;
  client: ClientInfo;
  request: ClassifiedRequest;
  grants?: AccessGrant[];
  now?: Date;
}

export interface HoldRequirement {
  approverGroups: string[];
  minApprovals: number;
}

export type Verdict =
  | { type: "allow"; policies: string[] }
  | { type: "mask"; ruleSets: string[]; policies: string[] }
  | { type: "hold"; requirement: HoldRequirement; maskRuleSets: string[]; policies: string[] }
  | { type: "deny"; reason: string; policies: string[] };

export type ErrorCode = "NOT_FOUND" | "FORBIDDEN" | "UNAUTHENTICATED" | "HELD" | "DENIED" | "INVALID" | "CONFLICT" | "RATE_LIMITED" | "UNAVAILABLE";

/** The one error type that crosses module boundaries; each edge maps `code` once. */
export class GatehouseError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly detail?: Record<string, unknown>,
  ) {
    super(message);
    this.name = "GatehouseError";
  }
}
