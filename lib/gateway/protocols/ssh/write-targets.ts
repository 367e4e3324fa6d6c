import type { RequestKind } from "@/lib/gateway/core/types";
import type { Token } from "./shell-words";

/**
 * What one exec line's walk through its commands knows besides their kinds: the directory its
 * relative paths start from, and the paths its writes name, for the host to resolve
 * (upstream-paths.ts: a name the text shows may be a symlink already there).
 *
 * `cwd`: "" while the shell is still in its start directory (the login's home directory), the
 * directory a `cd` named, or null once a `cd` went where the text cannot tell (`cd -`, `cd $D`).
 * A `cd` may fail (`cd x || true`), and one inside a pipeline changes nothing after it, so a path
 * after a `cd` is judged from both directories: the start one and the named one.
 */
export interface Walk {
  cwd: string | null;
  targets: string[];
  /** a `cd` the login's CDPATH may have sent elsewhere (changeDirectory) */
  cdpath?: boolean;
  /** what the line is at least, whatever the host says of its targets */
  atLeast?: RequestKind;
}

export const newWalk = (): Walk => ({ cwd: "", targets: [] });

const HOME_WORD = /^(~|\$HOME|\$\{HOME\})(\/|$)/;

export function isCd(words: Token[]): boolean {
  return words[0]?.value === "cd" && !words[0].dynamic;
}

/**
 * `cd [DIR]`: a read that moves where the later commands' relative paths lead. Options (`-P`),
 * `-`, a word the shell expands (other than the home directory) or more than one operand leave
 * the directory unknown; so does a redirection on it.
 *
 * A relative DIR whose first name is not `.` or `..` is looked up in CDPATH first, and CDPATH
 * comes from the login's environment (~/.bashrc, ~/.ssh/environment, sshd's SetEnv), which the
 * line does not show: `cd autostart` goes to ~/.config/autostart when CDPATH is ~/.config. Such a
 * `cd` is still followed (a write it shows reaching a persistence path is admin, and the host
 * judges the names it shows), and marks the walk `cdpath`: a later write is at least unknown,
 * never ordinary. `cd ./dir` and `cd ~/dir` never use CDPATH.
 */
export function changeDirectory(words: Token[], walk: Walk): RequestKind {
  const args = words.slice(1);
  if (args[0]?.value === "--") args.shift();
  const [dir] = args;
  const plainHome = dir && (dir.value === "~" || /^(\$HOME|\$\{HOME\})\/?$/.test(dir.value));
  if (dir && searchesCdpath(dir.value)) walk.cdpath = true;
  if (args.length > 1 || args.some((t) => t.redirect) || (dir && !plainHome && (dir.dynamic || dir.value.startsWith("-")))) walk.cwd = null;
  else walk.cwd = !dir || plainHome ? "" : inDirectory(walk.cwd, dir.value);
  return "read";
}

/** Whether `cd value` looks in CDPATH (POSIX and bash: unless it starts with `/`, `.` or `..` as a name). */
const searchesCdpath = (value: string) => isRelative(value) && !/^\.\.?(\/|$)/.test(value);

/** `value` read from `cwd` (null: unknown). */
export function inDirectory(cwd: string | null, value: string): string | null {
  if (value.startsWith("/") || HOME_WORD.test(value)) return value;
  if (cwd === null) return null;
  return cwd === "" ? value : `${cwd}/${value}`;
}

/** Whether a word is a relative path, which a `cd` before it moves. */
export const isRelative = (value: string) => !value.startsWith("/") && !HOME_WORD.test(value) && !/^~/.test(value);

/**
 * Records the paths a write's words may name: every word but the program and its options (a
 * `--name=PATH` or `of=PATH` value counted), redirection targets, and the directories a program
 * writes into without naming them (`tar x`'s working directory). Each relative one from the start
 * directory and from the `cd` one. A glob in the last segment is left for the host to match
 * (`ln -s no* n` links whatever `no*` is); one above it, or a brace expansion, names the
 * directory before it, the stricter judgement (a globbed directory, then a name).
 */
export function collectTargets(words: Token[], walk: Walk, implicit: string[] = []) {
  const add = (value: string) => {
    if (!value || value === "-" || walk.targets.includes(value)) return;
    walk.targets.push(value);
  };
  const paths = [...words.map((t) => ({ t, value: pathOf(t) })), ...implicit.map((value) => ({ t: { value } as Token, value }))];
  for (const { t, value } of paths) {
    if (value === null) continue;
    const literal = t.dynamic ? staticPrefix(value) : value;
    if (literal === null) continue;
    add(literal);
    if (walk.cwd && isRelative(literal)) add(inDirectory(walk.cwd, literal) ?? "");
  }
}

/** The path a word names: `--target-directory=D` and `of=F` their value; other options none. */
function pathOf(t: Token): string | null {
  if (t.redirect) return t.duplicate ? null : t.value;
  const value = t.value.replace(/^-{0,2}[A-Za-z][\w-]*=/, "");
  if (value !== t.value) return value;
  return value.startsWith("-") ? null : value;
}

/** A glob word as the host matches it (upstream-paths.ts), or the part before its first glob segment. */
function staticPrefix(value: string): string | null {
  if (/\$/.test(value.replace(/^(\$HOME|\$\{HOME\})(?=\/|$)/, ""))) return null; // a variable: judged by its text (admin)
  const segments = value.split("/");
  const glob = segments.findIndex((s) => /[*?[{]/.test(s));
  if (glob < 0 || (glob === segments.length - 1 && !segments[glob].includes("{"))) return value;
  const prefix = segments.slice(0, glob).join("/");
  return prefix === "" && value.startsWith("/") ? "/" : prefix || ".";
}
