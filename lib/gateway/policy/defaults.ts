/**
 * The policy set a fresh Gatehouse starts with. Its shape follows the obligation model
 * (README.md): plain permits say *who may do what*, permits carrying @hold / @mask add
 * obligations, and every matching permit's obligations apply. Obligations key on the
 * classifier's `context.request.kind` rather than on the action, so they cover SQL, shell, HTTP
 * and MCP requests alike.
 *
 * Expected verdicts (defaults.test.ts checks this matrix):
 *
 *   kind     | user                   | agent, depth 1         | agent, depth 2
 *   read     | allow                  | mask pii               | mask pii
 *   write    | allow / prod: hold 1   | mask pii / prod: hold 1| hold 1
 *   ddl      | hold 2                 | hold 2                 | hold 2
 *   admin    | hold 1                 | hold 1                 | hold 1
 *   unknown  | hold 1                 | hold 1                 | hold 1
 *   shell    | allow                  | hold 1                 | hold 1   (exec, kind interactive)
 *   (an agent's writes, unknown statements and exec are masked with pii too, held or not)
 *   forward  | deny                   | deny                   | deny     (nothing permits it)
 *   (any, depth > 3)                                            deny
 *
 * An active access grant on a prod connection lifts the prod write hold (not the others).
 */
export const DEFAULT_POLICIES = `// Gatehouse default policies. Edit in the console or with \`gatehouse policies apply\`.

// --- who may do what -------------------------------------------------------------------

@id("connect")
permit (principal, action == Gatehouse::Action::"connect", resource);

@id("people-read")
permit (principal is Gatehouse::User, action == Gatehouse::Action::"read", resource);

@id("people-http-tool")
permit (
  principal is Gatehouse::User,
  action in [Gatehouse::Action::"http", Gatehouse::Action::"tool"],
  resource
);

// Agents see data through the "pii" masking rules, whatever their depth, and whatever brings
// it back: a write returns rows too (UPDATE … RETURNING, SELECT … FOR UPDATE, a SELECT calling
// nextval()), and so does a command's output. (Write and exec are granted to everyone below:
// this adds the masking, not the permission.)
@id("agents-masked")
@mask("pii")
permit (
  principal is Gatehouse::Agent,
  action in [Gatehouse::Action::"read", Gatehouse::Action::"write", Gatehouse::Action::"exec", Gatehouse::Action::"http", Gatehouse::Action::"tool"],
  resource
);

@id("write")
permit (principal, action == Gatehouse::Action::"write", resource);

@id("exec")
permit (principal, action == Gatehouse::Action::"exec", resource);

// --- approvals (a @hold permit also grants the request, once approved) --------------------

@id("prod-write-approval")
@hold("approvers")
permit (principal, action, resource)
when {
  resource.tags.contains("prod") &&
  context.request.kind == "write" &&
  !context.grants.active
};

@id("ddl-approval")
@hold("approvers")
@approvals("2")
permit (principal, action, resource)
when { context.request.kind == "ddl" };

@id("admin-approval")
@hold("approvers")
permit (principal, action, resource)
when { context.request.kind == "admin" }
// forwarding (kind admin) is refused by default, not held: see below
unless { action == Gatehouse::Action::"forward" };

// A sub-agent (depth >= 2) is furthest from the human who answers for it: every change waits.
@id("deep-agent-change-approval")
@hold("approvers")
permit (principal is Gatehouse::Agent, action, resource)
when {
  context.chain.depth >= 2 &&
  ["write", "ddl", "admin"].contains(context.request.kind)
}
unless { action == Gatehouse::Action::"forward" };

// A shell cannot be decided command by command (its commands are only recorded): an agent's
// interactive shell waits for a human. People's shells are allowed by the "exec" permit.
@id("agent-shell-approval")
@hold("approvers")
permit (principal is Gatehouse::Agent, action == Gatehouse::Action::"exec", resource)
when { context.request.kind == "interactive" };

// The classifier could not tell what this does: a human decides.
@id("unknown-statement-approval")
@hold("approvers")
permit (principal, action, resource)
when { context.request.kind == "unknown" };

// SSH port forwarding (-L, -R, -D, -W), agent and X11 forwarding are refused: nothing here
// permits the action "forward". To allow one kind of forward, e.g. local forwards to a database:
//   permit (principal in Gatehouse::Group::"dba", action == Gatehouse::Action::"forward", resource)
//   when { context.request.text like "local db.internal:5432" };
// Request texts: "local HOST:PORT" (-L, -D, -W), "remote HOST:PORT" (-R), "agent" (-A),
// "x11" (-X, -Y).

// --- hard limits -------------------------------------------------------------------------

@id("deny-deep-delegation")
@reason("delegation chains deeper than 3 agents are refused")
forbid (principal, action, resource)
when { context.chain.depth > 3 };
`;
