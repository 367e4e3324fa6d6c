import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { positionals, str, UsageError } from "../args";
import type { Command, Group } from "../command";
import { CliError } from "../http";
import { formatTime } from "../output";

interface KeyRow {
  id: string;
  userId: string;
  name: string;
  algorithm: string;
  fingerprint: string;
  createdAt: string;
  lastUsedAt: string | null;
}

/** Public key files are one short line; anything this big is not one. */
const MAX_FILE = 64 * 1024;

const add: Command = {
  name: "add",
  summary: "register an SSH public key for logging in to the SSH gateway",
  usage: "add --file ~/.ssh/id_ed25519.pub [--name N] [--user EMAIL]",
  help: `  --file F     the public key file (one OpenSSH line); '-' reads it from stdin
  --name N     label shown in 'ssh-keys list' (default: the key's comment)
  --user EMAIL register the key for another user (admins)`,
  options: { file: { type: "string" }, name: { type: "string" }, user: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const file = str(args.values, "file");
    if (!file) throw new UsageError("--file is required, e.g. --file ~/.ssh/id_ed25519.pub");
    const publicKey = file === "-" ? await ctx.readStdin() : readKeyFile(file);
    // Checked here as well as on the server: a private key must never leave this machine.
    if (/PRIVATE KEY|PuTTY-User-Key-File/.test(publicKey)) {
      const pub = file !== "-" && fs.existsSync(`${expandHome(file)}.pub`) ? ` (did you mean ${file}.pub?)` : "";
      throw new CliError("INVALID", `${file === "-" ? "stdin" : file} holds a private key; it was not sent. Give the public key file instead${pub}`);
    }
    const name = str(args.values, "name");
    const user = str(args.values, "user");
    const res = await ctx.api().post<{ key: KeyRow }>("/ssh-keys", { publicKey, ...(name !== undefined ? { name } : {}), ...(user !== undefined ? { user } : {}) });
    ctx.out.result(res, () => ctx.out.line(`added SSH key ${res.key.id} (${res.key.name}, ${res.key.algorithm}) ${res.key.fingerprint}`));
  },
};

function expandHome(file: string) {
  return file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file;
}

function readKeyFile(file: string): string {
  const resolved = expandHome(file);
  try {
    const stat = fs.statSync(resolved);
    if (!stat.isFile()) throw new CliError("INVALID", `--file ${file} is not a file`);
    if (stat.size > MAX_FILE) throw new CliError("INVALID", `--file ${file} is too large to be a public key`);
    return fs.readFileSync(resolved, "utf8");
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError("INVALID", `cannot read --file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const list: Command = {
  name: "list",
  aliases: ["ls"],
  summary: "list your SSH keys (admins: --user EMAIL for someone else's)",
  usage: "list [--user EMAIL]",
  help: `  --user EMAIL  another user's keys (admins)`,
  options: { user: { type: "string" } },
  async run(ctx, args) {
    positionals(args);
    const res = await ctx.api().get<{ user: { id: string; email: string }; keys: KeyRow[] }>("/ssh-keys", { user: str(args.values, "user") });
    ctx.out.result(res, () =>
      ctx.out.table(
        res.keys,
        [
          { header: "ID", value: (k) => k.id },
          { header: "NAME", value: (k) => k.name },
          { header: "TYPE", value: (k) => k.algorithm },
          { header: "FINGERPRINT", value: (k) => k.fingerprint },
          { header: "ADDED", value: (k) => formatTime(k.createdAt) },
          { header: "LAST USED", value: (k) => (k.lastUsedAt ? formatTime(k.lastUsedAt) : "never") },
        ],
        `no SSH keys for ${res.user.email}`,
      ),
    );
  },
};

const rm: Command = {
  name: "rm",
  aliases: ["remove", "delete"],
  summary: "remove an SSH key (new logins with it are refused at once)",
  usage: "rm ID",
  help: `  ID  key id, as shown by 'ssh-keys list'`,
  async run(ctx, args) {
    const [id] = positionals(args, "ID");
    const res = await ctx.api().delete<{ id: string; removed: boolean }>(`/ssh-keys/${encodeURIComponent(id)}`);
    ctx.out.result(res, () => ctx.out.line(`removed SSH key ${res.id}`));
  },
};

export const sshKeys: Group = {
  name: "ssh-keys",
  summary: "SSH public keys that log you in to the SSH gateway instead of a token",
  commands: [add, list, rm],
};
