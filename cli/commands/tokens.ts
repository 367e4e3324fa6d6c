import fs from "node:fs";
import { flag, parseDuration, parseList, str, UsageError } from "../args";
import type { Command, Group } from "../command";
import { formatTime } from "../output";

interface TokenRow {
  id: string;
  userId: string;
  name: string;
  kind: string;
  parentTokenId: string | null;
  chain: { kind: string; id?: string; name?: string }[];
  depth: number;
  scopeConnections: string[];
  scopeActions: string[];
  expiresAt: string;
  revokedAt: string | null;
  createdAt: string;
}

interface Created {
  token: string;
  id: string;
  expiresAt: string;
  name: string;
}

const create: Command = {
  name: "create",
  summary: "mint a personal token (printed once)",
  usage: "create [--name N] [--ttl 1h|30d|3600] [--scope conn1,conn2] [--actions read,write]",
  help: `  --name N         label shown in 'tokens list'
  --ttl D          lifetime: 3600, 90m, 12h, 30d (server default 30d, max 90d)
  --scope a,b      connections the token may reach (default: all the owner may reach)
  --actions a,b    connect, read, write, ddl, admin, exec, http, tool (default: all)`,
  options: { name: { type: "string" }, ttl: { type: "string" }, scope: { type: "string" }, actions: { type: "string" } },
  async run(ctx, args) {
    if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}' (use --name to label the token)`);
    const name = str(args.values, "name");
    const ttl = str(args.values, "ttl");
    const scope = str(args.values, "scope");
    const actions = str(args.values, "actions");
    const body = {
      ...(name !== undefined ? { name } : {}),
      ...(ttl !== undefined ? { ttlSeconds: parseDuration(ttl, "--ttl") } : {}),
      ...(scope !== undefined ? { connections: nonEmptyList(scope, "--scope") } : {}),
      ...(actions !== undefined ? { actions: nonEmptyList(actions, "--actions") } : {}),
    };
    const res = await ctx.api().post<Created>("/tokens", body);
    ctx.out.result(res, () => {
      ctx.out.line(res.token);
      ctx.out.note(`created token ${res.id}${res.name ? ` (${res.name})` : ""}, expires ${formatTime(res.expiresAt)}; it is shown only this once`);
    });
  },
};

/** An empty scope would mean "no connections" to a reader but "default" to the server; refuse it. */
function nonEmptyList(value: string, option: string): string[] {
  const list = parseList(value);
  if (!list.length) throw new UsageError(`${option} needs at least one value`);
  return list;
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list your tokens (admins: --all for everyone's)",
  usage: "list [--all] [--revoked]",
  help: `  --all       every user's tokens (admins)
  --revoked   include revoked tokens`,
  options: { all: { type: "boolean" }, revoked: { type: "boolean" } },
  async run(ctx, args) {
    if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const all = flag(args.values, "all");
    const revoked = flag(args.values, "revoked");
    const res = await ctx.api().get<{ tokens: TokenRow[] }>("/tokens", { all: all ? "1" : undefined, revoked: revoked ? "1" : undefined });
    ctx.out.result(res, () =>
      ctx.out.table(
        res.tokens,
        [
          { header: "ID", value: (t) => t.id },
          { header: "NAME", value: (t) => t.name },
          { header: "KIND", value: (t) => t.kind },
          ...(all ? [{ header: "OWNER", value: (t: TokenRow) => t.chain[0]?.name ?? t.userId }] : []),
          // A delegated token's chain ends in the agent acting for the user.
          { header: "ACTOR", value: (t) => (t.depth > 0 || t.chain.length > 1 ? t.chain[t.chain.length - 1]?.name : "") },
          { header: "SCOPE", value: (t) => t.scopeConnections },
          { header: "ACTIONS", value: (t) => t.scopeActions },
          { header: "EXPIRES", value: (t) => formatTime(t.expiresAt) },
          ...(revoked ? [{ header: "REVOKED", value: (t: TokenRow) => (t.revokedAt ? formatTime(t.revokedAt) : "") }] : []),
        ],
        "no tokens",
      ),
    );
  },
};

const revoke: Command = {
  name: "revoke",
  summary: "revoke a token (and every token delegated from it)",
  usage: "revoke ID\nrevoke --token T",
  help: `  ID          token id, as shown by 'tokens list'
  --token T   the token itself; '-' reads it from stdin`,
  options: { token: { type: "string" } },
  async run(ctx, args) {
    const tokenFlag = str(args.values, "token");
    const [id, extra] = args.positionals;
    if (extra !== undefined) throw new UsageError(`unexpected argument '${extra}'`);
    if (Boolean(id) === (tokenFlag !== undefined)) throw new UsageError("give either a token ID or --token T");
    const api = ctx.api();
    const token = tokenFlag === "-" ? await ctx.readStdin() : tokenFlag;
    if (tokenFlag !== undefined && !token) throw new UsageError("--token: empty token");
    const res = id
      ? await api.delete<{ id: string; revoked: string[] }>(`/tokens/${encodeURIComponent(id)}`)
      : await api.delete<{ id: string; revoked: string[] }>("/tokens", { token: token!.trim() });
    ctx.out.result(res, () => {
      const cascade = res.revoked.filter((r) => r !== res.id).length;
      if (!res.revoked.length) ctx.out.line(`token ${res.id} was already revoked`);
      else ctx.out.line(`revoked token ${res.id}${cascade ? ` and ${cascade} token(s) delegated from it` : ""}`);
    });
  },
};

const exchange: Command = {
  name: "exchange",
  summary: "mint a child token for an agent from GATEHOUSE_TOKEN (RFC 8693 token exchange)",
  usage: "exchange --actor NAME [--scope conn1,conn2] [--actions read,write] [--ttl 30m] [--out FILE]",
  help: `  --actor NAME     the agent's name, as sessions and policies will see it
  --scope a,b      connections (must be within the parent's)
  --actions a,b    actions (must be within the parent's)
  --ttl D          lifetime (never longer than the parent's remaining lifetime; default min(1h, parent))
  --out FILE       write the token to FILE (mode 0600) instead of stdout`,
  options: { actor: { type: "string" }, scope: { type: "string" }, actions: { type: "string" }, ttl: { type: "string" }, out: { type: "string" } },
  async run(ctx, args) {
    if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const actor = str(args.values, "actor");
    if (!actor) throw new UsageError("--actor is required");
    const { token } = ctx.target();
    if (!token) throw new UsageError("set GATEHOUSE_TOKEN (or log in) to the parent token first");
    const scope = [
      ...(str(args.values, "scope") !== undefined ? nonEmptyList(str(args.values, "scope")!, "--scope").map((c) => `connection:${c}`) : []),
      ...(str(args.values, "actions") !== undefined ? nonEmptyList(str(args.values, "actions")!, "--actions").map((a) => `action:${a}`) : []),
    ];
    const ttl = str(args.values, "ttl");
    const res = await ctx.api().post<{ access_token: string; expires_in: number; scope: string; token_id: string; depth: number }>(
      "/token",
      {
        grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
        subject_token: token,
        subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
        actor,
        ...(scope.length ? { scope: scope.join(" ") } : {}),
        ...(ttl !== undefined ? { expires_in: parseDuration(ttl, "--ttl") } : {}),
      },
      { auth: false },
    );
    const out = str(args.values, "out");
    if (out) fs.writeFileSync(out, res.access_token + "\n", { mode: 0o600 });
    ctx.out.result(out ? { ...res, access_token: undefined, out } : res, () => {
      if (!out) ctx.out.line(res.access_token);
      ctx.out.note(`child token ${res.token_id} for ${actor} (depth ${res.depth}, ${res.expires_in} s, ${res.scope || "parent's scope"})${out ? ` written to ${out}` : ""}`);
    });
  },
};

const ticket: Command = {
  name: "ticket",
  summary: "mint a single-use 60-second connection ticket from GATEHOUSE_TOKEN",
  usage: "ticket [--connection NAME]",
  options: { connection: { type: "string" } },
  async run(ctx, args) {
    if (args.positionals.length) throw new UsageError(`unexpected argument '${args.positionals[0]}'`);
    const connection = str(args.values, "connection");
    const res = await ctx.api().post<{ ticket: string; id: string; expiresAt: string }>("/tokens/ticket", connection ? { connection } : {});
    ctx.out.result(res, () => {
      ctx.out.line(res.ticket);
      ctx.out.note(`ticket ${res.id}: one connection, until ${formatTime(res.expiresAt)}`);
    });
  },
};

export const tokens: Group = {
  name: "tokens",
  summary: "personal access tokens",
  commands: [create, list, revoke, exchange, ticket],
};
