import { flag, parseList, positionals, str, UsageError } from "../args";
import type { Command, Context, Group } from "../command";
import { formatTime } from "../output";

interface UserRow {
  id: string;
  email: string;
  name: string;
  role: string;
  disabled: boolean;
  source: string;
  createdAt: string;
  groups: string[];
}

interface Created {
  user: { id: string; email: string; role: string; groups: string[]; initialPassword?: string };
}

interface Updated {
  id: string;
  revokedTokens: number;
}

const ROLES = "admin, approver, auditor or member";

const path = (email: string) => `/users/${encodeURIComponent(email)}`;

const add: Command = {
  name: "add",
  summary: "create a local account (prints a generated initial password)",
  usage: "add EMAIL [--role R] [--groups a,b] [--name N] [--password-stdin]",
  help: `  --role R          ${ROLES} (default member)
  --groups a,b      group memberships
  --name N          display name
  --password-stdin  read the password from stdin; without it the server generates one`,
  options: { role: { type: "string" }, groups: { type: "string" }, name: { type: "string" }, "password-stdin": { type: "boolean" } },
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const role = str(args.values, "role");
    const groups = str(args.values, "groups");
    const name = str(args.values, "name");
    let password: string | undefined;
    if (flag(args.values, "password-stdin")) {
      password = await ctx.readStdin();
      if (!password) throw new UsageError("--password-stdin: stdin was empty");
    }
    const body = {
      email,
      ...(role !== undefined ? { role } : {}),
      ...(groups !== undefined ? { groups: parseList(groups) } : {}),
      ...(name !== undefined ? { name } : {}),
      ...(password !== undefined ? { password } : {}),
    };
    const res = await ctx.api().post<Created>("/users", body);
    const u = res.user;
    ctx.out.result(res, () => {
      ctx.out.line(`created user ${u.email} (${u.role}${u.groups.length ? `; groups ${u.groups.join(",")}` : ""})`);
      if (u.initialPassword) {
        ctx.out.line(`initial password: ${u.initialPassword}`);
        ctx.out.note("the initial password is shown only this once; hand it over securely");
      }
    });
  },
};

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list accounts",
  usage: "list",
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ users: UserRow[] }>("/users");
    ctx.out.result(res, () =>
      ctx.out.table(
        res.users,
        [
          { header: "EMAIL", value: (u) => u.email },
          { header: "NAME", value: (u) => u.name },
          { header: "ROLE", value: (u) => u.role },
          { header: "GROUPS", value: (u) => u.groups },
          { header: "STATUS", value: (u) => (u.disabled ? "disabled" : "active") },
          { header: "SOURCE", value: (u) => u.source },
          { header: "CREATED", value: (u) => formatTime(u.createdAt) },
        ],
        "no users",
      ),
    );
  },
};

async function patch(ctx: Context, email: string, body: Record<string, unknown>) {
  return ctx.api().patch<Updated>(path(email), body);
}

const disable: Command = {
  name: "disable",
  summary: "disable an account: revokes its tokens and ends its live sessions",
  usage: "disable EMAIL",
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const res = await patch(ctx, email, { disabled: true });
    ctx.out.result({ ...res, email, disabled: true }, () => ctx.out.line(`disabled ${email}${res.revokedTokens ? `; revoked ${res.revokedTokens} token(s)` : ""}`));
  },
};

const enable: Command = {
  name: "enable",
  summary: "re-enable a disabled account",
  usage: "enable EMAIL",
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const res = await patch(ctx, email, { disabled: false });
    ctx.out.result({ ...res, email, disabled: false }, () => ctx.out.line(`enabled ${email}`));
  },
};

const set: Command = {
  name: "set",
  summary: "change role, groups or display name",
  usage: "set EMAIL [--role R] [--groups a,b] [--name N]",
  help: `  --role R       ${ROLES}
  --groups a,b   replaces the memberships ('' removes all)
  --name N       display name`,
  options: { role: { type: "string" }, groups: { type: "string" }, name: { type: "string" } },
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const role = str(args.values, "role");
    const groups = str(args.values, "groups");
    const name = str(args.values, "name");
    const body = {
      ...(role !== undefined ? { role } : {}),
      ...(groups !== undefined ? { groups: parseList(groups) } : {}),
      ...(name !== undefined ? { name } : {}),
    };
    if (!Object.keys(body).length) throw new UsageError("nothing to change: give --role, --groups or --name");
    const res = await patch(ctx, email, body);
    ctx.out.result({ ...res, email, ...body }, () => ctx.out.line(`updated ${email}: ${Object.keys(body).join(", ")}`));
  },
};

interface Identity {
  issuer: string;
  subject: string;
  createdAt: string;
  groupsSyncedAt: string | null;
}

const identities: Command = {
  name: "identities",
  summary: "list the identity-provider identities (issuer, subject) linked to an account",
  usage: "identities EMAIL",
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const res = await ctx.api().get<{ identities: Identity[] }>(`${path(email)}/identities`);
    ctx.out.result(res, () =>
      ctx.out.table(
        res.identities,
        [
          { header: "ISSUER", value: (i) => i.issuer },
          { header: "SUBJECT", value: (i) => i.subject },
          { header: "LINKED", value: (i) => formatTime(i.createdAt) },
        ],
        "no linked identities",
      ),
    );
  },
};

const unlink: Command = {
  name: "unlink",
  summary: "remove a linked identity: ends the console sessions signed in through it and the tokens exchanged through it",
  usage: "unlink EMAIL --issuer I --subject S",
  help: `  --issuer I    the identity provider (as \`users identities\` shows it)
  --subject S   its subject (OIDC sub, SAML NameID)`,
  options: { issuer: { type: "string" }, subject: { type: "string" } },
  async run(ctx, args) {
    const [email] = positionals(args, "EMAIL");
    const issuer = str(args.values, "issuer");
    const subject = str(args.values, "subject");
    if (!issuer || !subject) throw new UsageError("give --issuer and --subject");
    const res = await ctx.api().delete<{ issuer: string; subject: string; revokedTokens: number }>(`${path(email)}/identities`, { issuer, subject });
    ctx.out.result({ ...res, email }, () => ctx.out.line(`unlinked ${subject} (${issuer}) from ${email}${res.revokedTokens ? `; revoked ${res.revokedTokens} token(s)` : ""}`));
  },
};

export const users: Group = {
  name: "users",
  summary: "local accounts, roles, groups and linked identities",
  commands: [add, list, disable, enable, set, identities, unlink],
};
