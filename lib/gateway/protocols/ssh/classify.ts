import type { ClassifiedRequest, RequestKind } from "@/lib/gateway/core/types";
import { transformsOutput } from "./output-transforms";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";
import { programRule } from "./program-rules";
import { splitCommands, type Token } from "./shell-words";
import { ASSIGNMENT, isWrapper, SAFE_VARIABLE, unwrap } from "./wrappers";
import { changeDirectory, collectTargets, isCd, newWalk, type Walk } from "./write-targets";

export { splitCommands, type Token };

/**
 * Classifies an SSH exec command line for policy. A shell command can do anything its program
 * can, so the classifier only vouches for what it understands: a short list of programs known
 * to be read-only (with their writing flags checked), known writers, and privileged programs.
 * Everything else — unknown programs, command/process substitution, eval, scripts — is
 * `unknown`, which the default policies hold for a human.
 *
 * A compound line (`a; b && c | d`) is classified as its most dangerous part, in the order
 * read < write < unknown < admin: one unknown part makes the whole line unknown. A `cd` is a
 * read that moves where the later parts' relative paths lead (write-targets.ts).
 */

const RANK: Record<RequestKind, number> = { read: 0, write: 1, ddl: 1, interactive: 2, unknown: 2, admin: 3 };

const READ = new Set(
  (
    "ls cat head tail less more grep egrep fgrep zgrep zcat rg stat file wc du df free uptime w who whoami id groups " +
    "hostname uname date pwd echo printf true false exit ps pgrep env printenv which type test [ sort uniq cut tr column " +
    "diff cmp md5sum sha1sum sha256sum sha512sum base64 od hexdump xxd jq basename dirname realpath readlink nproc lscpu " +
    "lsblk lsof ss netstat dmesg journalctl last locale tty sleep seq yes getent nslookup dig ping cal vmstat iostat top " +
    "fold fmt nl expand unexpand paste join comm rev tac"
  ).split(" "),
);

/** Writers that only take away: they plant nothing that could run later. */
const REMOVES = new Set(["rm", "rmdir", "unlink", "shred"]);

const WRITE = new Set("rm rmdir mv cp touch mkdir ln chmod chown chgrp truncate tee dd install shred unlink mkfifo patch".split(" "));

const ADMIN = new Set(
  (
    "sudo su doas pkexec systemctl service kill killall pkill reboot shutdown halt poweroff init telinit useradd userdel " +
    "usermod groupadd groupdel passwd chpasswd visudo mount umount iptables ip6tables nft ufw apt apt-get dpkg yum dnf rpm " +
    "snap crontab at modprobe insmod rmmod sysctl swapon swapoff mkfs fdisk parted chroot nsenter setcap"
  ).split(" "),
);

/** Programs that page their output on a terminal (through less, whose `!cmd` runs any command). */
const PAGING = new Set(["less", "more", "journalctl"]);

/**
 * `tty`: the command runs on a pseudo-terminal (ssh -t). Pagers are then interactive: less and
 * more run any command typed as `!cmd`, and git and journalctl page through less, so on a
 * terminal they are `unknown` — otherwise a "read" would open what amounts to a shell.
 */
export function classifyCommand(command: string, opts: { tty?: boolean } = {}): ClassifiedRequest {
  const { request, atLeast } = classifyExec(command, opts);
  return atLeastKind(request, atLeast);
}

/** `request`, its kind raised to `atLeast` when that is more dangerous. */
export function atLeastKind(request: ClassifiedRequest, atLeast: RequestKind | undefined): ClassifiedRequest {
  return atLeast && RANK[atLeast] > RANK[request.kind] ? { ...request, kind: atLeast } : request;
}

/**
 * The request, and for a write the paths it names (`targets`), which the host resolves before
 * the write is taken for an ordinary one (upstream-paths.ts): the text cannot show a symlink
 * already there, nor a home directory outside /home. `atLeast`: what the request is at least,
 * whatever the host says (a write after a `cd` that CDPATH may send elsewhere is unknown).
 */
export function classifyExec(command: string, opts: { tty?: boolean } = {}): { request: ClassifiedRequest; targets: string[]; atLeast?: RequestKind } {
  const walk = newWalk();
  const request: ClassifiedRequest = { action: "exec", kind: classifyLine(command, 0, opts.tty === true, walk), tables: [], functions: [], text: command };
  // A binary transfer, or output re-encoded (`base64`, `rev`, `xxd`…): masking cannot read it.
  const unmaskable = isBinaryTransfer(command) ? "transfer" : transformsOutput(command) ? "transform" : undefined;
  return { request: unmaskable ? { ...request, unmaskable } : request, targets: walk.targets, ...(walk.atLeast ? { atLeast: walk.atLeast } : {}) };
}

/**
 * A file transfer whose answer is a binary protocol, not terminal output: `scp -f` (sending files
 * to the client) and rsync's server side. Terminal masking cannot apply to it (it would mangle the
 * protocol, and a file is not text): the request is `unmaskable`.
 */
export function isBinaryTransfer(command: string): boolean {
  const parts = splitCommands(command);
  if (!parts || parts.length !== 1) return false;
  const [prog, ...args] = parts[0].filter((t) => !t.redirect).map((t) => t.value);
  const name = prog?.replace(/^.*\//, "");
  return (name === "scp" && args.includes("-f")) || (name === "rsync" && args.includes("--server"));
}

function classifyLine(line: string, depth: number, tty: boolean, walk: Walk): RequestKind {
  if (depth > 3) return "unknown";
  // Substitutions and here-documents run code we would have to evaluate to understand.
  if (/\$\(|`|<\(|>\(|<</.test(line) || expansionWithOperator(line)) return "unknown";
  const parts = splitCommands(line);
  if (parts === null) return "unknown";
  let worst: RequestKind = "read";
  for (const words of parts) {
    let kind: RequestKind;
    if (isCd(words)) {
      // The shell opens a cd's redirections all the same, from where it is (`cd . > f` creates f)
      const redirects = words.filter((t) => t.redirect);
      kind = redirects.length ? classifySimple(redirects, depth, tty, walk) : "read";
      changeDirectory(words, walk);
    } else kind = classifySimple(words, depth, tty, walk);
    if (RANK[kind] > RANK[worst]) worst = kind;
  }
  return worst;
}

/**
 * `${X:-word}`, `${X:=word}`, `${@…}`: a "${" whose text up to the next "}" holds ":" or "@". One
 * pass from the right, as a regular expression for it (`\$\{[^}]*[:@][^}]*\}`) backtracks
 * cubically: a 12 KB exec line of "${:" held the gateway's event loop (every session) for 27 s.
 */
function expansionWithOperator(line: string): boolean {
  let close = false; // a "}" further right
  let operator = false; // a ":" or "@" between here and that "}"
  for (let i = line.length - 1; i >= 0; i--) {
    const c = line[i];
    if (c === "}") {
      close = true;
      operator = false;
    } else if (c === ":" || c === "@") operator = close;
    else if (c === "$" && line[i + 1] === "{" && operator) return true;
  }
  return false;
}

/** Where a program may be named by its path: elsewhere `cat` may be any file the caller wrote there. */
const SYSTEM_PATH = /^\/(usr\/)?(local\/)?s?bin\/[^/]+$/;

/**
 * Programs whose arguments cannot make them do more than their kind, whatever they turn out to
 * be: an argument the shell expands (`$X`, `*`, `{a,b}`) or xargs appends may be any option, so
 * every other program with such an argument is `unknown`.
 */
const ARGS_HARMLESS = new Set(
  (
    "ls cat head tail grep egrep fgrep zgrep zcat stat wc du df free uptime w who whoami id groups uname pwd echo true " +
    "false exit ps pgrep which type test [ cut tr column diff cmp md5sum sha1sum sha256sum sha512sum base64 od hexdump " +
    "jq basename dirname realpath readlink nproc lscpu lsblk lsof netstat last locale tty sleep seq yes getent nslookup " +
    "dig ping cal vmstat iostat fold fmt nl expand unexpand paste join comm rev tac " +
    "rm rmdir mv cp touch mkdir ln chmod chown chgrp truncate tee dd shred unlink mkfifo"
  ).split(" "),
);

/** A simple command: its words after redirections were taken out. */
function classifySimple(tokens: Token[], depth: number, tty: boolean, walk: Walk): RequestKind {
  let redirectWrite = false;
  const words: Token[] = [];
  for (const t of tokens) {
    if (t.redirect) {
      // bash opens /dev/tcp/HOST/PORT (and udp) as a network connection, either way round: a
      // forward from the upstream host by another name (`cat < /dev/tcp/10.0.0.5/6379`), which
      // policy refuses. A target the shell expands may be one.
      if (t.dynamic || /^\/dev\/(tcp|udp)\//.test(t.value)) return "unknown";
      // `&1` is a descriptor only as the operator's own word (`>&1`), not quoted (`>'&1'` is a file)
      if (t.redirect === ">" && t.value !== "/dev/null" && !(t.duplicate && /^&[12]$/.test(t.value))) redirectWrite = true;
      continue;
    }
    words.push(t);
  }
  // A plain assignment (`X=-exec; find / $X …`) is held to the same names: exported ones (PATH)
  // reach the commands after it.
  let least: RequestKind = redirectWrite ? "write" : "read";
  for (; words.length && ASSIGNMENT.test(words[0].value); words.shift()) {
    if (!SAFE_VARIABLE.test(words[0].value)) least = "unknown";
  }
  const program = words.length ? classifyProgram(words, depth, tty, walk) : least;
  const kind = RANK[program] < RANK[least] ? least : program;
  // A write that may land where the host runs code later, or on who may log in, is no ordinary
  // write; nor is one into a directory above such paths (`ln -s / r`, `cp -rT stage ~`), whose
  // names the line does not show.
  if (RANK[kind] !== RANK.write) return kind;
  if (tokens.some((t) => isPersistencePath(t.value, { dynamic: t.dynamic }))) return "admin";
  if (writtenOperands(words).some((t) => isPersistenceAncestor(t.value, { dynamic: t.dynamic }))) return "admin";
  // After a `cd`: from the directory it named too (`cd / && echo x > etc/cron.d/j`); after one
  // the text cannot follow (`cd -`), a write lands nobody knows where.
  const operands = [...writtenOperands(words), ...tokens.filter((t) => t.redirect === ">")];
  if (walk.cwd === null) return "unknown";
  if (walk.cwd && writesUnder({ value: walk.cwd }, operands)) return "admin";
  // after a `cd` the login's CDPATH may have sent elsewhere: the host judges where the line's
  // names lead, and the write is at least unknown (write-targets.ts)
  if (walk.cdpath) walk.atLeast = "unknown";
  collectTargets(operands, walk);
  return kind;
}

/** `env -C DIR cmd …`: whether cmd's words, relative ones read from DIR, reach a persistence path or a directory above them. */
function writesUnder(dir: Token, words: Token[]): boolean {
  return words.some((t) => {
    const path = /^(\/|~|\$HOME|\$\{HOME\})/.test(t.value) ? t.value : `${dir.value}/${t.value}`;
    const opts = { dynamic: t.dynamic || dir.dynamic };
    return isPersistencePath(path, opts) || isPersistenceAncestor(path, opts);
  });
}

/** The words a write may name a place with: all but the program, and rsync's placeholder `.` (`rsync --server … . DEST`). */
function writtenOperands(words: Token[]): Token[] {
  const rest = words.slice(1);
  if (words[0]?.value.replace(/^.*\//, "") !== "rsync" || !rest.some((t) => t.value === "--server")) return rest;
  const dot = rest.findIndex((t) => t.value === ".");
  return rest.filter((_, i) => i !== dot);
}

function classifyProgram(words: Token[], depth: number, tty: boolean, walk: Walk): RequestKind {
  const [head, ...rest] = words;
  if (head.dynamic) return "unknown";
  const prog = head.value.replace(/^.*\//, "");
  const args = rest.map((t) => t.value);
  if (ADMIN.has(prog)) return "admin";
  if (head.value.includes("/") && !SYSTEM_PATH.test(head.value)) return "unknown";
  if (isWrapper(prog)) {
    const w = unwrap(prog, rest);
    if ("kind" in w) return w.kind;
    // nohup on a terminal appends the command's output to nohup.out, in the working directory or
    // the home directory, a file the line does not name (which may already be a symlink)
    if (prog === "nohup" && tty) return "unknown";
    const inner = w.inner.length ? classifyProgram(w.inner, depth, tty, walk) : "read";
    const kind = w.atLeast && RANK[inner] < RANK[w.atLeast] ? w.atLeast : inner;
    if (RANK[kind] !== RANK.write) return kind;
    // xargs writes where its input says (`printf ~/.bashrc | xargs tee -a`): places nobody saw. A
    // removal plants nothing, and stays a write.
    if (prog === "xargs" && !REMOVES.has(w.inner[0]?.value.replace(/^.*\//, "") ?? "")) return "admin";
    if (!w.chdir) return kind;
    if (writesUnder(w.chdir, w.inner.slice(1))) return "admin";
    collectTargets(w.inner.slice(1), { cwd: w.chdir.dynamic ? null : w.chdir.value, targets: walk.targets });
    return kind;
  }
  if (rest.some((t) => t.dynamic) && !ARGS_HARMLESS.has(prog)) return "unknown";
  if ((prog === "sh" || prog === "bash" || prog === "dash" || prog === "zsh") && args[0] === "-c" && args.length >= 2) return classifyLine(args[1], depth + 1, tty, walk);
  const ruled = programRule(prog, args, tty);
  if (ruled) return ruled;
  if (tty && PAGING.has(prog) && !args.includes("--no-pager")) return "unknown";
  if (prog === "scp") return args.includes("-f") ? "read" : args.includes("-t") ? "write" : "unknown";
  if (prog === "echo" || prog === "printf" || READ.has(prog)) return "read";
  if (WRITE.has(prog)) return "write";
  return "unknown";
}
