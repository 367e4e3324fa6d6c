/**
 * The Cedar schema every Gatehouse policy set is validated against, and the names the context
 * builder uses. The schema is the contract between policy authors and the gateway: a policy that
 * names an attribute the gateway does not send is rejected when it is saved, not silently false
 * at request time.
 *
 * Modelling choices (see README.md for examples):
 * - The principal is the *current actor*: a `User` for a plain token (depth 0), an `Agent` for a
 *   delegated token (depth >= 1). Each agent's parent is the actor that delegated to it, ending at
 *   the root `User`, whose parents are its groups. So `principal in Gatehouse::Group::"dba"` also
 *   matches agents acting for a DBA; restrict with `principal is Gatehouse::User` or
 *   `context.chain.depth == 0` when only humans should match.
 * - Entity ids are human names (user email, connection name, group name) so policies stay
 *   readable. Agent ids are the chain path `root@email/agent/sub-agent`, which is unique inside one
 *   chain even when a sub-agent has the same name as its parent (no self-parent cycles).
 * - `mutate` is an action group holding write, ddl and admin, for "anything that changes data".
 * - Every context field is required: a gateway bug that forgets one fails the request (schema
 *   check in Cedar) instead of evaluating a policy against a half-built context.
 */

export const CEDAR_NAMESPACE = "Gatehouse";

export const POLICY_SCHEMA = `namespace Gatehouse {
  entity Group;

  // A person or service account: the root of every delegation chain.
  entity User in [Group] {
    email: String,
    role: String,           // admin | approver | auditor | member
  };

  // A delegated actor. Parent = the actor that delegated to it (an Agent or the root User).
  entity Agent in [Agent, User, Group] {
    name: String,
  };

  entity Connection {
    name: String,
    type: String,           // postgres | mysql | ssh | kubernetes | http
    tags: Set<String>,
  };

  type RequestInfo = {
    kind: String,           // read | write | ddl | admin | interactive | unknown (classifier output)
    tables: Set<String>,
    functions: Set<String>,
    text: String,           // exactly what will run
  };

  type ChainInfo = {
    depth: Long,            // 0 = the user itself, 1 = an agent of the user, 2 = a sub-agent, ...
    rootUser: String,       // email of the root user
    actorKinds: Set<String>,// kinds present anywhere in the chain: user | service | agent
    actors: Set<String>,    // names of every actor in the chain, root included
    agentNames: Set<String>,// names of the agents in the chain (root excluded)
  };

  type ClientInfo = {
    address: String,
    protocol: String,       // postgres | mysql | ssh | kubernetes | http | mcp
    origin: String,         // native | web-console | mcp
  };

  type TimeInfo = {
    hour: Long,             // 0-23, UTC
    weekday: Long,          // 0 = Sunday ... 6 = Saturday, UTC
    epoch: Long,            // seconds since 1970-01-01 UTC
  };

  type GrantInfo = {
    active: Bool,           // an unexpired access grant exists for this connection
  };

  type RequestContext = {
    request: RequestInfo,
    chain: ChainInfo,
    client: ClientInfo,
    time: TimeInfo,
    grants: GrantInfo,
  };

  action mutate;
  action connect, read, exec, http, tool, forward appliesTo {
    principal: [User, Agent],
    resource: [Connection],
    context: RequestContext,
  };
  action write, ddl, admin in [mutate] appliesTo {
    principal: [User, Agent],
    resource: [Connection],
    context: RequestContext,
  };
}
`;

/** Fully qualified Cedar type names, used when building entities. */
export const ENTITY = {
  user: `${CEDAR_NAMESPACE}::User`,
  agent: `${CEDAR_NAMESPACE}::Agent`,
  group: `${CEDAR_NAMESPACE}::Group`,
  connection: `${CEDAR_NAMESPACE}::Connection`,
  action: `${CEDAR_NAMESPACE}::Action`,
} as const;

export const POLICY_ACTIONS = ["connect", "read", "write", "ddl", "admin", "exec", "http", "tool", "forward"] as const;
export const REQUEST_KINDS = ["read", "write", "ddl", "admin", "interactive", "unknown"] as const;

export function isPolicyAction(value: unknown): value is (typeof POLICY_ACTIONS)[number] {
  return typeof value === "string" && (POLICY_ACTIONS as readonly string[]).includes(value);
}

export function isRequestKind(value: unknown): value is (typeof REQUEST_KINDS)[number] {
  return typeof value === "string" && (REQUEST_KINDS as readonly string[]).includes(value);
}
