import type { RequestKind } from "@/lib/gateway/core/types";
import type { Token } from "./shell-words";

/**
 * Programs that run another command given as their arguments (env, nice, timeout, xargs…). The
 * command is what follows their own options, and an option that takes a value takes the next
 * word: `env -u cat sh -c …` runs sh, not cat, and `xargs -I cat sh -c cat` runs sh with the
 * input. So each wrapper's options are read exactly; one it does not know (`env -S 'sh -c …'`
 * runs its value as a command line) makes the line `unknown`.
 */
export type Unwrapped = { kind: RequestKind } | { inner: Token[]; atLeast?: RequestKind; chdir?: Token };

/**
 * Variables a command may be given (`LANG=C ls`, `env LANG=C ls`): the ones that only pick a
 * language, a time zone or a terminal. Any other may change what runs: BASH_ENV=/dev/stdin makes
 * `bash -c true` run its input, PATH and LD_PRELOAD pick the code, PS4, GIT_*, TAR_OPTIONS and
 * the like feed programs options.
 */
export const SAFE_VARIABLE = /^(LANG|LANGUAGE|LC_[A-Z]+|TZ|TERM|COLORTERM|COLUMNS|LINES|NO_COLOR)=/;
export const ASSIGNMENT = /^[A-Za-z_][A-Za-z0-9_]*=/;

interface Spec {
  /** short options taking a value (attached or the next word) */
  valued: string;
  flags: string;
  /** short options whose value, if any, is attached (xargs -e, -i, -l) */
  optional?: string;
  long: Record<string, "flag" | "value" | "optional">;
  /** `nice -5`: an obsolete numeric option */
  numeric?: boolean;
}

const SPECS: Record<string, Spec> = {
  env: { valued: "uC", flags: "i0v", long: { "ignore-environment": "flag", null: "flag", unset: "value", chdir: "value", debug: "flag" } },
  nice: { valued: "n", flags: "", long: { adjustment: "value" }, numeric: true },
  nohup: { valued: "", flags: "", long: {} },
  time: { valued: "fo", flags: "apqv", long: { format: "value", output: "value", append: "flag", portability: "flag", verbose: "flag", quiet: "flag" } },
  timeout: { valued: "sk", flags: "v", long: { signal: "value", "kill-after": "value", "preserve-status": "flag", foreground: "flag", verbose: "flag" } },
  stdbuf: { valued: "ioe", flags: "", long: { input: "value", output: "value", error: "value" } },
  ionice: { valued: "cnpPu", flags: "t", long: { class: "value", classdata: "value", pid: "value", pgid: "value", uid: "value", ignore: "flag" } },
  command: { valued: "", flags: "pvV", long: {} },
  xargs: {
    valued: "adEILnPs",
    flags: "0oprtx",
    optional: "eil",
    long: {
      null: "flag", "no-run-if-empty": "flag", verbose: "flag", interactive: "flag", exit: "flag", "open-tty": "flag", "show-limits": "flag",
      "arg-file": "value", delimiter: "value", "max-args": "value", "max-procs": "value", "max-chars": "value",
      eof: "optional", replace: "optional", "max-lines": "optional",
    },
  },
};

export function isWrapper(prog: string): boolean {
  return prog in SPECS;
}

export function unwrap(prog: string, args: Token[]): Unwrapped {
  const parsed = parseOptions(args, SPECS[prog]);
  if (!parsed) return { kind: "unknown" };
  const { opts } = parsed;
  let inner = parsed.rest;
  switch (prog) {
    case "env": {
      let unsafe = false;
      for (; inner.length && ASSIGNMENT.test(inner[0].value); inner = inner.slice(1)) unsafe ||= !!inner[0].dynamic || !SAFE_VARIABLE.test(inner[0].value);
      // -C DIR: the command's relative paths are read from DIR, not from the home directory.
      const dir = opts.get("C") ?? opts.get("chdir");
      const chdir = dir === undefined ? {} : { chdir: { value: dir } };
      return unsafe ? { inner, atLeast: "unknown", ...chdir } : { inner, ...chdir };
    }
    case "time": // -o FILE writes the timings there
      return { inner, ...(opts.has("o") || opts.has("output") ? { atLeast: "write" as const } : {}) };
    case "timeout":
      return { inner: inner.slice(1) }; // after the duration
    case "ionice": // -p/-P/-u change the priority of processes already running
      return ["p", "P", "u", "pid", "pgid", "uid"].some((o) => opts.has(o)) ? { kind: "admin" } : { inner };
    case "command":
      return opts.has("v") || opts.has("V") ? { kind: "read" } : { inner };
    case "xargs": {
      if (!inner.length) return { kind: "read" }; // echo
      // With a replace string every word containing it is the input's (the program's name too);
      // otherwise the input is appended: either way arguments nobody has seen yet.
      const replace = opts.get("I") ?? (opts.has("i") ? opts.get("i") || "{}" : opts.has("replace") ? opts.get("replace") || "{}" : null);
      const marked = inner.map((t) => (replace && t.value.includes(replace) ? { ...t, dynamic: true as const } : t));
      return { inner: [...marked, { value: "", dynamic: true }] };
    }
    default:
      return { inner };
  }
}

/** A wrapper's own options, and the words after them; null for an option it does not know, or one the shell expands. */
function parseOptions(args: Token[], spec: Spec): { opts: Map<string, string>; rest: Token[] } | null {
  const opts = new Map<string, string>();
  let i = 0;
  const next = (): string | null => {
    const v = args[++i];
    return v && !v.dynamic ? v.value : null;
  };
  for (; i < args.length; i++) {
    const { value: a, dynamic } = args[i];
    if (a === "--") return { opts, rest: args.slice(i + 1) };
    if (!a.startsWith("-") || a === "-") break;
    if (dynamic) return null;
    if (spec.numeric && /^-[0-9]+$/.test(a)) continue;
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = eq < 0 ? a.slice(2) : a.slice(2, eq);
      const type = spec.long[name];
      if (!type || (type === "flag" && eq >= 0)) return null;
      const value = eq >= 0 ? a.slice(eq + 1) : type === "value" ? next() : "";
      if (value === null) return null;
      opts.set(name, value);
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const c = a[j];
      if (spec.flags.includes(c)) {
        opts.set(c, "");
        continue;
      }
      if (spec.optional?.includes(c)) {
        opts.set(c, a.slice(j + 1));
        break;
      }
      if (!spec.valued.includes(c)) return null;
      const value = a.length > j + 1 ? a.slice(j + 1) : next();
      if (value === null) return null;
      opts.set(c, value);
      break;
    }
  }
  // `env -`: the same as -i
  if (args[i]?.value === "-" && spec === SPECS.env) return { opts, rest: args.slice(i + 1) };
  return { opts, rest: args.slice(i) };
}
