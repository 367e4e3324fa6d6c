import type { ClassifiedRequest, RequestKind } from "@/lib/gateway/core/types";

/**
 * Classifies an SSH exec command line for policy. A shell command can do anything its program
 * can, so the classifier only vouches for what it understands: a short list of programs known
 * to be read-only (with their writing flags checked), known writers, and privileged programs.
 * Everything else — unknown programs, command/process substitution, eval, scripts — is
 * `unknown`, which the default policies hold for a human.
 *
 * A compound line (`a; b && c | d`) is classified as its most dangerous part, in the order
 * read < write < unknown < admin: one unknown part makes the whole line unknown.
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

const WRITE = new Set("rm rmdir mv cp touch mkdir ln chmod chown chgrp truncate tee dd install shred unlink mkfifo patch".split(" "));

const ADMIN = new Set(
  (
    "sudo su doas pkexec systemctl service kill killall pkill reboot shutdown halt poweroff init telinit useradd userdel " +
    "usermod groupadd groupdel passwd chpasswd visudo mount umount iptables ip6tables nft ufw apt apt-get dpkg yum dnf rpm " +
    "snap crontab at modprobe insmod rmmod sysctl swapon swapoff mkfs fdisk parted chroot nsenter setcap"
  ).split(" "),
);

/** Programs that run another command given as their arguments. */
const WRAPPERS = new Set(["nice", "nohup", "time", "timeout", "stdbuf", "ionice", "xargs", "command"]);

/** Programs that page their output on a terminal (through less, whose `!cmd` runs any command). */
const PAGING = new Set(["less", "more", "journalctl"]);

/**
 * `tty`: the command runs on a pseudo-terminal (ssh -t). Pagers are then interactive: less and
 * more run any command typed as `!cmd`, and git and journalctl page through less, so on a
 * terminal they are `unknown` — otherwise a "read" would open what amounts to a shell.
 */
export function classifyCommand(command: string, opts: { tty?: boolean } = {}): ClassifiedRequest {
  return { action: "exec", kind: classifyLine(command, 0, opts.tty === true), tables: [], functions: [], text: command };
}

function classifyLine(line: string, depth: number, tty = false): RequestKind {
  if (depth > 3) return "unknown";
  // Substitutions and here-documents run code we would have to evaluate to understand.
  if (/\$\(|`|<\(|>\(|<<|\$\{[^}]*[:@][^}]*\}/.test(line)) return "unknown";
  const parts = splitCommands(line);
  if (parts === null) return "unknown";
  let worst: RequestKind = "read";
  for (const words of parts) {
    const kind = classifySimple(words, depth, tty);
    if (RANK[kind] > RANK[worst]) worst = kind;
  }
  return worst;
}

/** A simple command: its words after redirections were taken out. */
function classifySimple(tokens: Token[], depth: number, tty: boolean): RequestKind {
  let redirectWrite = false;
  const words: string[] = [];
  for (const t of tokens) {
    if (t.redirect) {
      if (t.redirect === ">" && !/^(\/dev\/null|&[12])$/.test(t.value)) redirectWrite = true;
      continue;
    }
    words.push(t.value);
  }
  while (words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[0])) words.shift(); // VAR=value cmd
  if (!words.length) return redirectWrite ? "write" : "read";
  const kind = classifyProgram(words, depth, tty);
  return redirectWrite && RANK[kind] < RANK.write ? "write" : kind;
}

function classifyProgram(words: string[], depth: number, tty: boolean): RequestKind {
  const prog = words[0].replace(/^.*\//, "");
  const args = words.slice(1);
  if (ADMIN.has(prog)) return "admin";
  if (prog === "env") {
    const i = args.findIndex((a) => !a.startsWith("-") && !a.includes("="));
    return i < 0 ? "read" : classifyProgram(args.slice(i), depth, tty);
  }
  if (WRAPPERS.has(prog)) {
    const rest = args.filter((a) => !a.startsWith("-"));
    if (prog === "timeout") rest.shift(); // the duration
    if (prog === "command" && args[0] === "-v") return "read";
    return rest.length ? classifyProgram(rest, depth, tty) : "read";
  }
  if ((prog === "sh" || prog === "bash" || prog === "dash" || prog === "zsh") && args[0] === "-c" && args.length >= 2) return classifyLine(args[1], depth + 1, tty);
  if (prog === "sed") return classifySed(args);
  if (prog === "find") return args.some((a) => /^-(delete|exec|execdir|ok|okdir|fprint|fprint0|fprintf|fls)$/.test(a)) ? "unknown" : "read";
  // --compress-program runs a program of the caller's choosing
  if (prog === "sort") return args.some((a) => longOption(a, "compress-program")) ? "unknown" : args.some((a) => a === "-o" || a.startsWith("--output")) ? "write" : "read";
  if (prog === "top") return args.includes("-b") ? "read" : "unknown";
  // --pre runs a program on every file searched
  if (prog === "rg") return args.some((a) => a.startsWith("--pre")) ? "unknown" : "read";
  if (prog === "tar") return classifyTar(args);
  if (prog === "git") return ["status", "log", "diff", "show", "branch", "remote", "rev-parse", "ls-files", "blame"].includes(args[0] ?? "") ? (tty && args[0] !== "status" && args[0] !== "rev-parse" ? "unknown" : "read") : "write";
  if (tty && PAGING.has(prog) && !args.includes("--no-pager")) return "unknown";
  if (prog === "scp") return args.includes("-f") ? "read" : args.includes("-t") ? "write" : "unknown";
  if (prog === "rsync") return args.includes("--server") && args.includes("--sender") ? "read" : "write";
  if (prog === "echo" || prog === "printf" || READ.has(prog)) return "read";
  if (WRITE.has(prog)) return "write";
  return "unknown";
}

/**
 * sed: writing with -i, `w`/`W` commands or the `w` flag of `s`; running commands with the `e`
 * command or the `e` flag of `s` (GNU sed); a script read from a file is not known.
 */
function classifySed(args: string[]): RequestKind {
  if (args.some((a) => /^-[a-zA-Z]*f/.test(a) || longOption(a, "file"))) return "unknown";
  const scripts = args.map((a) => (a.startsWith("--") && a.includes("=") ? a.slice(a.indexOf("=") + 1) : a)).filter((a) => !a.startsWith("-"));
  if (scripts.some((a) => /(^|[;\n{}])\s*[0-9,$/]*\s*e(\s|$|;)/.test(a) || sFlags(a).some((f) => f.includes("e")))) return "unknown";
  if (args.some((a) => /^-[a-zA-Z]*i/.test(a) || longOption(a, "in-place"))) return "write";
  if (scripts.some((a) => /(^|[;\n{}])\s*[0-9,$/]*\s*[wW](\s|$)/.test(a) || sFlags(a).some((f) => f.includes("w")))) return "write";
  return "read";
}

/** `arg` is GNU long option `--name` (getopt_long takes any prefix of it, and `--name=value`). */
function longOption(arg: string, ...names: string[]): boolean {
  if (!arg.startsWith("--") || arg.length < 3) return false;
  const given = arg.slice(2).split("=")[0];
  return names.some((n) => n.startsWith(given));
}

/** The flags of every `s` command in a sed script (`s/a/b/gpe` → "gpe"), any delimiter. */
function sFlags(script: string): string[] {
  const flags: string[] = [];
  const re = /(?:^|[;\n{}\s0-9,$!])s([^\\\n])/g;
  for (let m = re.exec(script); m; m = re.exec(script)) {
    const delim = m[1];
    let i = m.index + m[0].length;
    for (let parts = 0; parts < 2 && i <= script.length; i++) {
      if (script[i] === "\\") i++;
      else if (script[i] === delim) parts++;
    }
    const rest = /^[a-zA-Z0-9]*/.exec(script.slice(i))![0];
    flags.push(rest);
    re.lastIndex = i;
  }
  return flags;
}

/**
 * tar lists with t (read) and otherwise writes; options that run a program are unknown whatever
 * the mode: a (de)compressor, --to-command, checkpoint actions, volume scripts, a remote shell.
 */
function classifyTar(args: string[]): RequestKind {
  const RUNS = ["use-compress-program", "to-command", "checkpoint-action", "info-script", "new-volume-script", "rsh-command", "rmt-command"];
  const runs = args.some((a, i) => longOption(a, ...RUNS) || /^-[a-zA-Z]*[IF]/.test(a) || (i === 0 && /^[a-zA-Z]+$/.test(a) && /[IF]/.test(a)));
  if (runs) return "unknown";
  return /^-?[a-zA-Z]*t/.test(args[0] ?? "") || args.includes("--list") ? "read" : "write";
}

interface Token {
  value: string;
  /** set for the target of a redirection: ">" (write) or "<" (read) */
  redirect?: ">" | "<";
}

/**
 * Splits a command line into simple commands (at ; & && || | and newlines) and words, with
 * POSIX quoting. Returns null for what it cannot lex (unterminated quotes).
 */
export function splitCommands(line: string): Token[][] | null {
  const commands: Token[][] = [];
  let words: Token[] = [];
  let cur = "";
  let inWord = false;
  let pendingRedirect: Token["redirect"] | null = null;
  const endWord = () => {
    if (!inWord) return;
    words.push(pendingRedirect ? { value: cur, redirect: pendingRedirect } : { value: cur });
    pendingRedirect = null;
    cur = "";
    inWord = false;
  };
  const endCommand = () => {
    endWord();
    if (words.length) commands.push(words);
    words = [];
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return null;
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === "\\" && j + 1 < line.length) cur += line[++j];
        else cur += line[j];
      }
      if (j >= line.length) return null;
      inWord = true;
      i = j;
    } else if (c === "\\") {
      if (i + 1 < line.length && line[i + 1] !== "\n") cur += line[i + 1];
      inWord = true;
      i++;
    } else if (c === " " || c === "\t") {
      endWord();
    } else if (c === ";" || c === "&" || c === "|" || c === "\n" || c === "(" || c === ")") {
      if (c === "&" && line[i + 1] === ">") {
        endWord();
        pendingRedirect = ">";
        i++;
        if (line[i + 1] === ">") i++;
        continue;
      }
      endCommand();
    } else if (c === ">" || c === "<") {
      // "2>&1", "2>/dev/null", "> file", ">> file": an fd number before it belongs to the operator.
      if (/^[0-9]+$/.test(cur) && inWord) {
        cur = "";
        inWord = false;
      } else endWord();
      pendingRedirect = c;
      if (line[i + 1] === ">" || line[i + 1] === "|") i++;
      if (line[i + 1] === "&") {
        // >&2 duplicates a descriptor: not a file
        i++;
        let j = i + 1;
        while (j < line.length && /[0-9-]/.test(line[j])) j++;
        words.push({ value: `&${line.slice(i + 1, j)}`, redirect: ">" });
        pendingRedirect = null;
        i = j - 1;
      }
    } else {
      cur += c;
      inWord = true;
    }
  }
  endCommand();
  return commands;
}
