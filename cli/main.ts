import fs from "node:fs";
import { parse, peekGlobals, str, UsageError } from "./args";
import { commandHelp, findCommand, groupHelp, isGroup, topHelp, type Command, type Context, type Entry, type Group } from "./command";
import { access, approvals } from "./commands/approvals";
import { audit } from "./commands/audit";
import { connections } from "./commands/connections";
import { login } from "./commands/login";
import { masking } from "./commands/masking";
import { policies } from "./commands/policies";
import { sessions } from "./commands/sessions";
import { sshKeys } from "./commands/ssh-keys";
import { tokens } from "./commands/tokens";
import { users } from "./commands/users";
import { whoami } from "./commands/whoami";
import { resolveTarget } from "./credentials";
import { ApiClient } from "./http";
import { Output } from "./output";

/** Order here is the order in `gatehouse help`. Later groups (sessions) slot in. */
const ENTRIES: Entry[] = [login, whoami, connections, tokens, sshKeys, users, policies, masking, approvals, access, sessions, audit];

export interface Io {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** a function so that commands which never read stdin never touch (and hold open) it */
  stdin: () => NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function main(io: Io): Promise<number> {
  const { leading, rest } = splitLeadingGlobals(io.argv);
  const globals = peekGlobals(io.argv);
  const out = new Output(globals.json, io.stdout, io.stderr);
  let helpPath = "gatehouse help";
  try {
    const [name, ...afterName] = rest;
    if (name === "--version") return out.line(version()), 0;
    if (name === "help") return printHelp(out, afterName);
    if (!name) {
      if (globals.help) return out.line(topHelp(ENTRIES)), 0;
      io.stderr.write(topHelp(ENTRIES) + "\n");
      return 2;
    }
    const entry = ENTRIES.find((e) => e.name === name);
    if (!entry) throw new UsageError(`unknown command '${name}'`);

    let command: Command;
    let group: Group | undefined;
    let args: string[];
    if (isGroup(entry)) {
      group = entry;
      helpPath = `gatehouse ${group.name} --help`;
      const [sub, ...afterSub] = afterName;
      if (!sub || sub.startsWith("-")) {
        if (globals.help) return out.line(groupHelp(group)), 0;
        throw new UsageError(sub ? `unknown option '${sub}' before a subcommand` : `'gatehouse ${group.name}' needs a subcommand`);
      }
      const found = findCommand(group.commands, sub);
      if (!found) throw new UsageError(`unknown command '${group.name} ${sub}'`);
      command = found;
      args = [...leading, ...afterSub];
    } else {
      command = entry;
      args = [...leading, ...afterName];
    }
    helpPath = `gatehouse ${group ? `${group.name} ` : ""}${command.name} --help`;

    const parsed = parse(args, command.options ?? {});
    if (parsed.values.help) return out.line(commandHelp(command, group)), 0;
    const code = await command.run(makeContext(io, out, str(parsed.values, "url")), parsed);
    return code ?? 0;
  } catch (err) {
    if (err instanceof UsageError && !err.hint) err.hint = `run '${helpPath}' for usage`;
    return out.error(err);
  }
}

/** `gatehouse --json --url U tokens list`: global flags may come before the command name. */
function splitLeadingGlobals(argv: string[]): { leading: string[]; rest: string[] } {
  let i = 0;
  while (i < argv.length) {
    const a = argv[i];
    if (a === "--json" || a === "--help" || a === "-h" || a.startsWith("--url=")) i += 1;
    else if (a === "--url") i += 2;
    else break;
  }
  return { leading: argv.slice(0, i).filter((a) => a !== "--help" && a !== "-h"), rest: argv.slice(i) };
}

function printHelp(out: Output, path: string[]): number {
  const [name, sub] = path.filter((p) => !p.startsWith("-"));
  if (!name) return out.line(topHelp(ENTRIES)), 0;
  const entry = ENTRIES.find((e) => e.name === name);
  if (!entry) throw new UsageError(`unknown command '${name}'`);
  if (!isGroup(entry)) return out.line(commandHelp(entry)), 0;
  if (!sub) return out.line(groupHelp(entry)), 0;
  const command = findCommand(entry.commands, sub);
  if (!command) throw new UsageError(`unknown command '${name} ${sub}'`);
  return out.line(commandHelp(command, entry)), 0;
}

function makeContext(io: Io, out: Output, urlFlag: string | undefined): Context {
  const target = () => resolveTarget(io.env, urlFlag);
  return {
    out,
    env: io.env,
    target,
    api: () => {
      const { url, token } = target();
      return new ApiClient(url, token);
    },
    readStdin: () => readAll(io.stdin()),
  };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function version(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version?: string };
    return `gatehouse ${pkg.version ?? "unknown"}`;
  } catch {
    return "gatehouse (version unknown)";
  }
}

/** The process entry point used by bin/gatehouse.mjs. */
export async function run(): Promise<void> {
  const code = await main({ argv: process.argv.slice(2), env: process.env, stdin: () => process.stdin, stdout: process.stdout, stderr: process.stderr });
  // exitCode rather than exit(): piped stdout (audit export | gzip) must drain first.
  process.exitCode = code;
}
