import { parseArgs, type ParseArgsConfig } from "node:util";

/**
 * Argument parsing shared by every command: node's `util.parseArgs` in strict mode, with its
 * errors turned into `UsageError` (exit 2), plus the value parsers commands need (durations,
 * comma lists). Nothing here talks to the network.
 */

export class UsageError extends Error {
  readonly code = "USAGE";
  constructor(
    message: string,
    /** where to look next, e.g. "run 'gatehouse tokens create --help'"; main fills it in */
    public hint?: string,
  ) {
    super(message);
  }
}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

/** Accepted by every command, wherever it appears on the line. */
export const GLOBAL_OPTIONS = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  url: { type: "string" },
} as const satisfies OptionSpec;

export type Values = Record<string, string | boolean | undefined>;

export interface Parsed {
  values: Values;
  positionals: string[];
}

export function parse(args: string[], options: OptionSpec): Parsed {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...GLOBAL_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    // parseArgs throws TypeErrors with ERR_PARSE_ARGS_* codes; their first line is the useful part.
    const message = err instanceof Error ? err.message.split("\n")[0] : String(err);
    throw new UsageError(message);
  }
}

/** Only the global flags, leniently: used before we know which command's options apply. */
export function peekGlobals(args: string[]): { json: boolean; help: boolean } {
  return { json: args.includes("--json"), help: args.includes("--help") || args.includes("-h") };
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function flag(values: Values, name: string): boolean {
  return values[name] === true;
}

/** Exactly `names.length` positionals, named for the error message. */
export function positionals(parsed: Parsed, ...names: string[]): string[] {
  const got = parsed.positionals;
  if (got.length < names.length) throw new UsageError(`missing ${names.slice(got.length).map((n) => `<${n}>`).join(" ")}`);
  if (got.length > names.length) throw new UsageError(`unexpected argument '${got[names.length]}'`);
  return got;
}

/** "a,b, c" → ["a","b","c"]; "" → [] (so `--groups ""` clears a list). */
export function parseList(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * "3600" (seconds), "90m", "1h", "30d", "2w", or combinations like "1h30m" → whole seconds.
 * Zero, negative and unknown units are usage errors, not silently rounded.
 */
export function parseDuration(text: string, option = "duration"): number {
  const s = text.trim().toLowerCase();
  if (/^\d+$/.test(s)) return positive(Number(s), text, option);
  const parts = [...s.matchAll(/(\d+)([smhdw])/g)];
  if (!parts.length || parts.map((p) => p[0]).join("") !== s) {
    throw new UsageError(`${option}: '${text}' is not a duration (use e.g. 3600, 90m, 12h, 30d)`);
  }
  return positive(
    parts.reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_SECONDS[unit], 0),
    text,
    option,
  );
}

function positive(seconds: number, text: string, option: string): number {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new UsageError(`${option}: '${text}' must be a positive duration`);
  return seconds;
}
