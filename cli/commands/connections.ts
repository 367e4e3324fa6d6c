import fs from "node:fs";
import { flag, parseList, positionals, str, UsageError, type Values } from "../args";
import type { Command, Context, Group } from "../command";
import { CliError } from "../http";
import { formatTime } from "../output";

/** What the server returns for a connection; the secret itself never comes back, only `hasSecret`. */
interface Connection {
  id: string;
  name: string;
  type: string;
  upstream: string;
  username: string;
  tags: string[];
  options: Record<string, unknown>;
  description: string;
  hasSecret: boolean;
  createdAt: string;
  updatedAt: string;
}

const TYPES = ["postgres", "mysql", "ssh", "kubernetes", "http"];

const path = (name: string) => `/connections/${encodeURIComponent(name)}`;

const add: Command = {
  name: "add",
  summary: "register an upstream",
  usage: "add NAME --type postgres|mysql|ssh|kubernetes|http --upstream URL [--user U] [--tags a,b] [--key-file F | --password-stdin] [--description D]",
  help: `  --type T          postgres, mysql, ssh, kubernetes or http
  --upstream URL    e.g. postgres://db.internal:5432/app, ssh://host:22, https://k8s:6443
  --user U          upstream username
  --tags a,b        tags used by policies
  --key-file F      file whose contents become the write-only secret (SSH key, kubeconfig token)
  --password-stdin  read the upstream password from stdin as the write-only secret
  --description D   free text`,
  options: {
    type: { type: "string" },
    upstream: { type: "string" },
    user: { type: "string" },
    tags: { type: "string" },
    "key-file": { type: "string" },
    "password-stdin": { type: "boolean" },
    description: { type: "string" },
  },
  async run(ctx, args) {
    const [name] = positionals(args, "NAME");
    const type = str(args.values, "type");
    const upstream = str(args.values, "upstream");
    if (!type) throw new UsageError(`--type is required (${TYPES.join(", ")})`);
    if (!TYPES.includes(type)) throw new UsageError(`--type must be one of ${TYPES.join(", ")}`);
    if (!upstream) throw new UsageError("--upstream is required");
    const tags = str(args.values, "tags");
    const description = str(args.values, "description");
    const user = str(args.values, "user");
    const secret = await secretFrom(ctx, args.values);
    const body = {
      name,
      type,
      upstream,
      ...(user !== undefined ? { username: user } : {}),
      ...(tags !== undefined ? { tags: parseList(tags) } : {}),
      ...(description !== undefined ? { description } : {}),
      ...(secret !== undefined ? { secret } : {}),
    };
    const res = await ctx.api().post<{ connection: Connection }>("/connections", body);
    ctx.out.result(res, () => ctx.out.line(`added connection ${res.connection.name} (${res.connection.type} → ${res.connection.upstream}${res.connection.hasSecret ? ", secret stored" : ""})`));
  },
};

/** The secret is write-only: read from a file or stdin, never from argv (visible in ps). */
async function secretFrom(ctx: Context, values: Values): Promise<string | undefined> {
  const keyFile = str(values, "key-file");
  const fromStdin = flag(values, "password-stdin");
  if (keyFile && fromStdin) throw new UsageError("give either --key-file or --password-stdin, not both");
  if (fromStdin) {
    const secret = await ctx.readStdin();
    if (!secret) throw new UsageError("--password-stdin: stdin was empty");
    return secret;
  }
  if (!keyFile) return undefined;
  try {
    return fs.readFileSync(keyFile, "utf8");
  } catch (err) {
    throw new CliError("INVALID", `cannot read --key-file ${keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list connections",
  usage: "list",
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ connections: Connection[] }>("/connections");
    ctx.out.result(res, () =>
      ctx.out.table(
        res.connections,
        [
          { header: "NAME", value: (c) => c.name },
          { header: "TYPE", value: (c) => c.type },
          { header: "UPSTREAM", value: (c) => c.upstream },
          { header: "USER", value: (c) => c.username },
          { header: "TAGS", value: (c) => c.tags },
          { header: "SECRET", value: (c) => (c.hasSecret ? "set" : "-") },
        ],
        "no connections",
      ),
    );
  },
};

const show: Command = {
  name: "show",
  aliases: ["get"],
  summary: "show one connection",
  usage: "show NAME",
  async run(ctx, args) {
    const [name] = positionals(args, "NAME");
    const res = await ctx.api().get<{ connection: Connection }>(path(name));
    const c = res.connection;
    ctx.out.result(res, () =>
      ctx.out.fields([
        ["name", c.name],
        ["id", c.id],
        ["type", c.type],
        ["upstream", c.upstream],
        ["user", c.username],
        ["tags", c.tags],
        ["secret", c.hasSecret ? "set (write-only)" : "none"],
        ["options", Object.keys(c.options ?? {}).length ? JSON.stringify(c.options) : "-"],
        ["description", c.description],
        ["created", formatTime(c.createdAt)],
        ["updated", formatTime(c.updatedAt)],
      ]),
    );
  },
};

const rm: Command = {
  name: "rm",
  aliases: ["remove", "delete"],
  summary: "delete a connection",
  usage: "rm NAME",
  async run(ctx, args) {
    const [name] = positionals(args, "NAME");
    const res = await ctx.api().delete<{ id: string }>(path(name));
    ctx.out.result({ ...res, name }, () => ctx.out.line(`removed connection ${name}`));
  },
};

export const connections: Group = {
  name: "connections",
  summary: "upstream databases, hosts, clusters and apps",
  commands: [add, list, show, rm],
};
