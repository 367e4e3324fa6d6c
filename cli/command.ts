import type { OptionSpec, Parsed } from "./args";
import type { ApiClient } from "./http";
import type { Output } from "./output";

/**
 * The shape every command group follows (cli/commands/<group>.ts exports one `Group` or a
 * standalone `Command`); main.ts only dispatches and prints help from these declarations.
 * New groups (policies, masking, approvals, sessions) are added by writing a file and listing
 * it in main.ts — nothing else changes.
 */

export interface Context {
  out: Output;
  env: NodeJS.ProcessEnv;
  /** The configured server and token (--url > GATEHOUSE_URL > last login > default). */
  target(): { url: string; token?: string };
  /** A client for `target()`; throws UNAUTHENTICATED on first use when there is no token. */
  api(): ApiClient;
  /** All of stdin, minus one trailing newline (for `--password -`, `--password-stdin`). */
  readStdin(): Promise<string>;
}

export interface Command {
  name: string;
  aliases?: string[];
  summary: string;
  /** one or more synopsis lines, without the leading "gatehouse <group>" */
  usage: string;
  /** option help, one "  --flag VALUE   meaning" line each */
  help?: string;
  options?: OptionSpec;
  /** exit code; undefined means 0 */
  run(ctx: Context, args: Parsed): Promise<number | void>;
}

export interface Group {
  name: string;
  summary: string;
  commands: Command[];
}

export type Entry = Command | Group;

export function isGroup(entry: Entry): entry is Group {
  return "commands" in entry;
}

export function findCommand(commands: Command[], name: string): Command | undefined {
  return commands.find((c) => c.name === name || c.aliases?.includes(name));
}

const GLOBAL_HELP = `Global options:
  --json         machine-readable output on stdout; errors as JSON on stderr
  --url URL      Gatehouse server (default: $GATEHOUSE_URL, else the last login, else http://127.0.0.1:3000)
  -h, --help     show help`;

export function topHelp(entries: Entry[]): string {
  const width = Math.max(...entries.map((e) => e.name.length));
  return `gatehouse — command-line client for the Gatehouse access gateway

Usage:
  gatehouse <command> [subcommand] [options]
  gatehouse help <command> [subcommand]

Commands:
${entries.map((e) => `  ${e.name.padEnd(width)}  ${e.summary}`).join("\n")}

${GLOBAL_HELP}

Environment:
  GATEHOUSE_URL       server URL
  GATEHOUSE_TOKEN     bearer token (wins over the credentials file written by \`gatehouse login\`)
  GATEHOUSE_PASSWORD  password for \`gatehouse login\` when --password is not given

Exit codes: 0 ok, 1 failure, 2 usage error.`;
}

export function groupHelp(group: Group): string {
  const lines = group.commands.flatMap((c) => c.usage.split("\n").map((u, i) => ({ u: `gatehouse ${group.name} ${u}`, s: i === 0 ? c.summary : "" })));
  const width = Math.max(...lines.map((l) => l.u.length));
  return `gatehouse ${group.name} — ${group.summary}

Usage:
${lines.map((l) => (l.s ? `  ${l.u.padEnd(width)}  ${l.s}` : `  ${l.u}`)).join("\n")}

Run 'gatehouse ${group.name} <subcommand> --help' for details.

${GLOBAL_HELP}`;
}

export function commandHelp(command: Command, group?: Group): string {
  const prefix = group ? `gatehouse ${group.name}` : "gatehouse";
  const usage = command.usage
    .split("\n")
    .map((u) => `  ${prefix} ${u}`)
    .join("\n");
  const aliases = command.aliases?.length ? `\nAliases: ${command.aliases.join(", ")}\n` : "";
  return `${prefix} ${command.name} — ${command.summary}

Usage:
${usage}
${command.help ? `\nOptions:\n${command.help}\n` : ""}${aliases}
${GLOBAL_HELP}`;
}
