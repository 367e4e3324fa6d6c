import type { RequestKind } from "@/lib/gateway/core/types";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";
import { sedScriptKind } from "./sed-script";

/**
 * What a program counted as read-only really does with the arguments it was given. Most read,
 * but many have an option or an argument that writes a file (`uniq in out`, `sort -o`), changes
 * the system (`date 0101…`, `dmesg -C`) or runs a program of the caller's choosing (`sed …/e`,
 * `tar -I`, `rg --pre`): a "read" that does any of these would pass a read-only policy.
 * Returns null for programs without a rule here (classify.ts decides them by name).
 */
export function programRule(prog: string, args: string[], tty: boolean): RequestKind | null {
  switch (prog) {
    case "sed":
      return classifySed(args);
    case "tar":
      return classifyTar(args);
    case "git":
      return classifyGit(args, tty);
    case "find":
      return args.some((a) => /^-(delete|exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls)$/.test(a)) ? "unknown" : "read";
    case "sort": // --compress-program runs a program of the caller's choosing
      return args.some((a) => longOption(a, "compress-program")) ? "unknown" : hasShort(args, "o", "kStT") || args.some((a) => longOption(a, "output")) ? "write" : "read";
    case "rg": // --pre runs a program on every file searched, --hostname-bin one to name the host
      return args.some((a) => a.startsWith("--pre") || a.startsWith("--hostname-bin")) ? "unknown" : "read";
    case "top":
      return args.includes("-b") ? "read" : "unknown";
    case "uniq": // uniq [in [out]]
      return positionals(args, "fsw").length >= 2 ? "write" : "read";
    case "xxd": // xxd [in [out]], -r too (-C is a flag: capitalized names for -i)
      return positionals(args, "cglson").length >= 2 ? "write" : "read";
    case "date": // date -s X, or date MMDDhhmm…: sets the clock
      return hasShort(args, "s", "dfrI") || args.some((a) => longOption(a, "set")) || positionals(args, "dfr").some((a) => !a.startsWith("+")) ? "admin" : "read";
    case "hostname": // hostname NAME, -F file, -b: sets the name
      return hasShort(args, "Fb") || args.some((a) => longOption(a, "file", "boot")) || positionals(args, "").length > 0 ? "admin" : "read";
    case "dmesg": {
      if (hasShort(args, "cCnDE", "flsF") || args.some((a) => longOption(a, "clear", "read-clear", "console-level", "console-off", "console-on"))) return "admin";
      // -H pages through less on a terminal (unless -P), whose `!cmd` runs a command
      const pages = (hasShort(args, "H", "flsF") || args.some((a) => longOption(a, "human"))) && !hasShort(args, "P", "flsF") && !args.some((a) => longOption(a, "nopager"));
      return tty && pages ? "unknown" : "read";
    }
    case "journalctl": // --cursor-file=FILE writes the last entry's cursor to FILE
      return args.some((a) => longOption(a, ...JOURNAL_CHANGES)) ? "admin" : args.some((a) => longOption(a, "cursor-file")) ? "write" : null;
    case "ss": // -K kills the sockets it lists; -D FILE dumps them into FILE
      if (hasShort(args, "K", "fAFND") || args.some((a) => longOption(a, "kill"))) return "admin";
      return hasShort(args, "D", "fAFN") || args.some((a) => longOption(a, "diag")) ? "write" : "read";
    case "install": // --strip-program runs a program of the caller's choosing on what it installed
      return args.some((a) => longOption(a, "strip-program")) ? "unknown" : null;
    case "rsync":
      return classifyRsync(args);
    case "printf": // bash's printf -v sets a shell variable (PATH, for the commands after it)
      return /^-[^-]*v/.test(args[0] ?? "") ? "unknown" : null;
    case "file": // -C compiles the magic file into magic.mgc
      return hasShort(args, "C", "eFfmP") || args.some((a) => longOption(a, "compile")) ? "write" : null;
    default:
      return null;
  }
}

/**
 * rsync: its server side sends (read) or receives (write); a sender told to remove what it sent,
 * or to log to a file, writes. As a client it writes, and runs the remote shell of -e/--rsh (or a
 * remote command, --rsync-path) of the caller's choosing: unknown.
 */
function classifyRsync(args: string[]): RequestKind {
  if (args.includes("--server")) {
    const writes = args.some((a) => longOption(a, "remove-source-files", "remove-sent-files", "log-file"));
    return args.includes("--sender") && !writes ? "read" : "write";
  }
  if (hasShort(args, "e", "BfTM") || args.some((a) => longOption(a, "rsh", "rsync-path"))) return "unknown";
  // HOST:PATH, HOST::MODULE or rsync://: a connection from the upstream host to another one,
  // with the upstream account's keys, as `ssh` (unknown) would make.
  return args.some((a) => !a.startsWith("-") && (/^[^/]*:/.test(a) || a.startsWith("rsync://"))) ? "unknown" : "write";
}

const JOURNAL_CHANGES = ["rotate", "vacuum-size", "vacuum-time", "vacuum-files", "flush", "sync", "relinquish-var", "smart-relinquish-var", "setup-keys", "update-catalog"];

/** Operands: the words that are neither options nor the value of a short option in `valued` given separately (`-f 3`). */
function positionals(args: string[], valued: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") return out.concat(args.slice(i + 1));
    if (a.startsWith("-") && a !== "-") {
      if (a.length === 2 && valued.includes(a[1])) i++;
      continue;
    }
    out.push(a);
  }
  return out;
}

/** Whether a short option in `flags` is given, alone or in a bundle (`-xvf`); what follows one in `valued` is its value. */
function hasShort(args: string[], flags: string, valued = ""): boolean {
  for (const a of args) {
    if (a === "--") return false;
    if (!/^-[^-]/.test(a)) continue;
    for (const c of a.slice(1)) {
      if (flags.includes(c)) return true;
      if (valued.includes(c)) break;
    }
  }
  return false;
}

/** `arg` is GNU long option `--name` (getopt_long takes any prefix of it, and `--name=value`). */
function longOption(arg: string, ...names: string[]): boolean {
  if (!arg.startsWith("--") || arg.length < 3) return false;
  const given = arg.slice(2).split("=")[0];
  return names.some((n) => n.startsWith(given));
}

/**
 * git: a few subcommands only look (listing branches and remotes, not changing them; log/diff
 * without --output); every other known one writes; an alias or an unknown one may run anything
 * (`alias.x = !cmd`), as may `-c`/`--config-env`/`--exec-path`. On a terminal, the subcommands
 * that page do so through less, whose `!cmd` runs a command.
 */
function classifyGit(args: string[], tty: boolean): RequestKind {
  let i = 0;
  let paging = tty;
  /** where the work tree is: each -C moves from the one before (`git -C a -C b` is a/b), --work-tree names it */
  let worktree = ".";
  for (; i < args.length && args[i].startsWith("-"); i++) {
    const a = args[i];
    if (a === "--version") return "read";
    if (a === "--no-pager" || a === "-P") paging = false;
    else if (a === "-C") worktree = /^[/~]/.test(args[++i] ?? "") ? args[i] : `${worktree}/${args[i] ?? ""}`;
    else if (a.startsWith("--work-tree=")) worktree = a.slice("--work-tree=".length);
    else if (!/^--(git-dir|work-tree|namespace)=|^--(bare|no-replace-objects|literal-pathspecs|no-optional-locks)$/.test(a)) return "unknown";
  }
  const sub = args[i] ?? "";
  const rest = args.slice(i + 1);
  const pages = paging && !rest.includes("--no-pager") && ["log", "diff", "show", "blame", "branch", "grep", "shortlog", "tag", "reflog"].includes(sub);
  let kind: RequestKind;
  if (sub === "grep" && (hasShort(rest, "O", "efABCm") || rest.some((a) => longOption(a, "open-files-in-pager")))) return "unknown";
  if (GIT_RUNS[sub]?.(rest)) return "unknown";
  if (["status", "rev-parse", "ls-files", "ls-tree", "cat-file", "describe", "grep", "shortlog"].includes(sub)) kind = "read";
  else if (sub === "reflog") kind = ["expire", "delete", "drop", "write"].includes(rest[0]) ? "write" : "read";
  else if (["log", "diff", "show", "blame"].includes(sub)) kind = rest.some((a) => longOption(a, "output")) ? "write" : "read";
  else if (sub === "branch") kind = gitBranchLists(rest) ? "read" : "write";
  else if (sub === "tag") kind = rest.length === 0 || (hasShort(rest, "l", "n") || rest.some((a) => longOption(a, "list"))) && !hasShort(rest, "dafsumF", "n") && !rest.some((a) => longOption(a, "delete", "annotate", "force", "sign", "local-user", "message", "file")) ? "read" : "write";
  else if (sub === "config") {
    // what it lists (`-l`, `--get-all`, `--get-regexp`, `--get-urlmatch`) pages on a terminal too
    const kind = classifyGitConfig(rest);
    const lists = rest[0] === "list" || hasShort(rest, "l", "ft") || rest.some((a) => !/^--get(=|$)/.test(a) && longOption(a, "list", "get-all", "get-regexp", "get-urlmatch"));
    return paging && kind === "read" && lists ? "unknown" : kind;
  }
  else if (sub === "remote") kind = rest.length === 0 || rest.every((a) => a === "-v" || a === "--verbose") || rest[0] === "show" || rest[0] === "get-url" ? "read" : "write";
  else if (GIT_WRITES.has(sub)) kind = "write";
  else return "unknown";
  if (kind === "write" && gitBringsNames(sub, rest, worktree)) return "admin";
  return pages && kind === "read" ? "unknown" : kind;
}

const GIT_WRITES = new Set(
  "add am apply bisect checkout cherry-pick clean clone commit fetch gc init merge mv notes prune pull push rebase reset restore revert rm stash submodule switch worktree".split(" "),
);

/**
 * Git commands that write into the work tree files whose names come from commits, not from the
 * line: in a directory above persistence paths (a home directory kept in git, the working
 * directory of an exec), `git pull` brings `.bashrc` or `.ssh/authorized_keys` as `tar x` would.
 */
const GIT_CHECKS_OUT = new Set("am apply bisect checkout cherry-pick merge pull rebase reset restore revert stash submodule switch worktree".split(" "));

function gitBringsNames(sub: string, rest: string[], worktree: string): boolean {
  if (GIT_CHECKS_OUT.has(sub)) return isPersistenceAncestor(worktree);
  if (sub !== "clone") return false;
  // clone's directory: its second operand, else the last part of the URL without ".git"
  // (`host:/r/.ssh.git` is `.ssh`). A long option's value given apart (`--depth 1`) reads as an
  // operand here, so every operand is judged both as the directory and as the URL.
  const dirs = positionals(rest, "obcjuL").flatMap((a) => [a, a.replace(/[/:]*$/, "").replace(/^.*[/:]/, "").replace(/\.git$/, "")]);
  return dirs.some((dir) => {
    const path = /^[/~]/.test(dir) ? dir : `${worktree}/${dir}`;
    return isPersistencePath(path) || isPersistenceAncestor(path);
  });
}

/**
 * Git commands that run a command given as an option or operand: `rebase --exec`, `bisect run`,
 * `submodule foreach`, the upload-pack/receive-pack programs of the transports (run through a
 * shell for local and file:// remotes), and clone's config and hook templates.
 */
const GIT_RUNS: Record<string, (rest: string[]) => boolean> = {
  rebase: (r) => hasShort(r, "x", "sXC") || r.some((a) => longOption(a, "exec")),
  bisect: (r) => r[0] === "run",
  submodule: (r) => r.includes("foreach"),
  fetch: (r) => r.some((a) => longOption(a, "upload-pack")),
  pull: (r) => r.some((a) => longOption(a, "upload-pack", "exec")),
  clone: (r) => hasShort(r, "uc", "objL") || r.some((a) => longOption(a, "upload-pack", "config", "template")),
  init: (r) => r.some((a) => longOption(a, "template")),
  push: (r) => r.some((a) => longOption(a, "receive-pack", "exec")),
};

/**
 * `git config`: reading a value or the list is a read; anything else writes .git/config,
 * ~/.gitconfig or a --file, where core.hooksPath, core.fsmonitor, core.pager, core.sshCommand
 * and `!` aliases run commands at the next git command: a persistence write (admin), as writing
 * those files directly is. Its editor (-e) is unknown.
 */
function classifyGitConfig(args: string[]): RequestKind {
  const [first] = args;
  if (first === "get" || first === "list") return "read"; // git ≥ 2.46 subcommands
  if (first === "edit" || hasShort(args, "e", "ft") || args.some((a) => longOption(a, "edit"))) return "unknown";
  if (args.some((a) => longOption(a, "add", "unset", "unset-all", "replace-all", "rename-section", "remove-section"))) return "admin";
  if (hasShort(args, "l", "ft") || args.some((a) => longOption(a, "get", "get-all", "get-regexp", "get-urlmatch", "get-color", "get-colorbool", "list"))) return "read";
  const positionals: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-f" || a === "-t" || ["--file", "--blob", "--type", "--default", "--comment"].includes(a)) i++;
    else if (!a.startsWith("-")) positionals.push(a);
  }
  return positionals.length <= 1 ? "read" : "admin"; // `git config NAME` reads it; `git config NAME VALUE` sets it
}

/** `git branch` lists when it gets no operand (or --list with patterns) and no option that changes a branch. */
function gitBranchLists(args: string[]): boolean {
  const changes = hasShort(args, "dDmMcCfut") || args.some((a) => longOption(a, "delete", "move", "copy", "force", "set-upstream-to", "unset-upstream", "edit-description", "track", "no-track", "create-reflog"));
  if (changes) return false;
  const listing = args.some((a) => a === "-l" || longOption(a, "list", "contains", "no-contains", "merged", "no-merged", "points-at"));
  return listing || !args.some((a) => !a.startsWith("-"));
}

/**
 * sed: its script (given with -e/--expression, else the first operand) read by sedScriptKind;
 * -i writes; a script read from a file, or an option not known here, is unknown.
 */
function classifySed(args: string[]): RequestKind {
  const scripts: string[] = [];
  const operands: string[] = [];
  let inPlace = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const value = () => (eq >= 0 ? a.slice(eq + 1) : args[++i]);
      if (longOption(a, "expression")) scripts.push(value() ?? "");
      else if (longOption(a, "in-place")) inPlace = true;
      else if (longOption(a, "line-length")) value();
      else if (!longOption(a, ...SED_FLAGS) || eq >= 0) return "unknown"; // --file among them
    } else if (a.startsWith("-") && a !== "-") {
      for (let j = 1; j < a.length; j++) {
        const c = a[j];
        if ("nrEsuz".includes(c)) continue;
        if (c === "i") inPlace = true; // the rest is a backup suffix
        else if (c === "e" || c === "l") {
          const value = a.length > j + 1 ? a.slice(j + 1) : args[++i];
          if (c === "e") scripts.push(value ?? "");
        } else return "unknown"; // -f among them
        break;
      }
    } else operands.push(a);
  }
  if (!scripts.length) {
    if (!operands.length) return "unknown";
    scripts.push(operands[0]);
  }
  let kind: RequestKind = inPlace ? "write" : "read";
  for (const script of scripts) {
    const k = sedScriptKind(script);
    if (k === "unknown") return "unknown";
    if (k === "write") kind = "write";
  }
  return kind;
}

const SED_FLAGS = ["quiet", "silent", "debug", "posix", "regexp-extended", "separate", "unbuffered", "null-data", "zero-terminated", "follow-symlinks", "sandbox"];

/**
 * tar lists with t (read) and otherwise writes; options that run a program are unknown whatever
 * the mode: a (de)compressor, --to-command, checkpoint actions, volume scripts, a remote shell, and
 * multi-volume prompts (`!` there spawns a shell).
 */
function classifyTar(args: string[]): RequestKind {
  // -M: at a volume's end (a truncated archive) tar asks on stdin for the next one, and a reply of
  // `!` spawns a shell that reads the commands after it
  const RUNS = ["use-compress-program", "to-command", "checkpoint-action", "info-script", "new-volume-script", "rsh-command", "rmt-command", "multi-volume"];
  const runs = args.some((a, i) => longOption(a, ...RUNS) || /^-[a-zA-Z]*[IFM]/.test(a) || (i === 0 && /^[a-zA-Z]+$/.test(a) && /[IFM]/.test(a)));
  if (runs) return "unknown";
  // An archive named HOST:FILE is opened through the remote shell (rsh, often ssh) on that host,
  // with the upstream account's keys, unless --force-local.
  if (!args.some((a) => longOption(a, "force-local")) && args.some((a) => /^(--file=|-[a-zA-Z]*f)?[^/=]*:/.test(a) && !/^--[a-z-]+=[^:]*$/.test(a))) return "unknown";
  // --index-file writes the listing (or verbose output) to a file, whatever the mode
  if (args.some((a) => longOption(a, "index-file", "volno-file"))) return "write";
  // A list: t in the leading bundle (`tvf`: every letter an option) or in a dash cluster before
  // any option that takes a value (`-cft X` is c with the archive "t"), and no other mode anywhere
  // (a cluster's letters read whatever their place, a word after --file included: the stricter).
  const list = (/^[a-zA-Z]*t/.test(args[0] ?? "") || hasShort(args, "t", "CfbHIKLNTgVX") || args.includes("--list")) &&
    !args.some((a, i) => ((/^-[^-]/.test(a) || (i === 0 && /^[a-zA-Z]+$/.test(a))) && /[cxruAd]/.test(a.replace(/^-/, ""))) || longOption(a, ...TAR_MODES));
  if (list) return "read";
  // Extracting writes the archive's names, which the line does not show, under -C (else the
  // working directory, a home directory): there, `.ssh/authorized_keys` or `.bashrc` among them.
  const extracts = /^-?[a-zA-Z]*x/.test(args[0] ?? "") || hasShort(args, "x", "CfbHIKLNTgVX") || args.some((a) => longOption(a, "extract", "get"));
  return extracts && tarDirectories(args).some((d) => isPersistenceAncestor(d)) ? "admin" : "write";
}

const TAR_MODES = ["create", "extract", "get", "append", "update", "catenate", "concatenate", "delete", "diff", "compare", "test-label"];

/** tar's -C / --directory values (each may apply to some members), else the working directory. */
function tarDirectories(args: string[]): string[] {
  const dirs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-C" || (a.startsWith("--di") && !a.includes("=") && longOption(a, "directory"))) dirs.push(args[++i] ?? ".");
    else if (/^-C./.test(a)) dirs.push(a.slice(2));
    else if (a.includes("=") && longOption(a, "directory")) dirs.push(a.slice(a.indexOf("=") + 1));
  }
  // A -C inside a cluster (`-xvC DIR`) or abbreviated is not read here: then "." is judged, the stricter.
  return dirs.length && !args.some((a) => /^-[a-zA-Z]+C/.test(a)) ? dirs : [".", ...dirs];
}
