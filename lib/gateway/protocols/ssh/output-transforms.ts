/**
 * Commands whose output is the data re-encoded, cut up or reshaped. Terminal masking reads the
 * output for values as a reader would see them; `rev`, `base64`, `xxd`, `od`, `tr 0-9 a-j`,
 * `fold -w1`, `column`, `cut -c1-4`, `grep -o .`, `sed y/…/`, `awk`/`perl -e`/`python -c`, a compressor
 * writing to stdout: each prints a value in a form no detector can see, and the reader turns it
 * back. So where masking applies such a command is refused like any other result that cannot be
 * masked (classify.ts marks it `unmaskable`; the core denies it when the session is masked, and
 * leaves it alone where nothing is masked).
 *
 * Read as the shell runs it: through wrappers (env, timeout, xargs…), `sh -c`, sudo/doas,
 * `find -exec` and `watch`. A line it cannot lex, or one with a substitution (`$(…)`, backticks)
 * that names such a program, counts as one: under masking, what we cannot read is refused.
 */
import { splitCommands, type Token } from "./shell-words";
import { ASSIGNMENT, isWrapper, unwrap } from "./wrappers";

/** Transforms whatever their arguments. */
const ALWAYS = new Set(
  (
    "rev base64 base32 basenc od hexdump hd xxd tr fold fmt uuencode iconv recode openssl gpg age busybox " +
    "awk gawk mawk nawk perl python python2 python3 ruby node nodejs php lua luajit tclsh bc dc"
  ).split(" "),
);

const COMPRESSORS = new Set("gzip bzip2 xz lzma zstd lz4 compress zip 7z 7za pigz".split(" "));
const SHELLS = new Set(["sh", "bash", "dash", "zsh", "ksh"]);
const SUBSTITUTION = /\$\(|`|<\(|>\(/;
const NAMES = new RegExp(`(^|[^\\w.-])(${[...ALWAYS, ...COMPRESSORS, "cut", "sed", "jq", "tar"].join("|")})($|[^\\w.-])`);
/** sed scripts that only select lines: line-number or regex addresses with p, d, q, Q or = */
const SED_SELECT = /^(\s*((\d+|\$)(~\d+)?|\/[^/\n]*\/)?\s*(,\s*(\d+|\$|\/[^/\n]*\/))?\s*!?\s*[pdqQ=]?\s*[;\n]?)*$/;
/** a jq filter that only picks a path (`.`, `.a.b`, `.[0].name`) */
const JQ_PATH = /^\.([\w.[\]"-]*)$/;

export function transformsOutput(command: string, depth = 0): boolean {
  if (depth > 3) return true;
  if (SUBSTITUTION.test(command)) return NAMES.test(command);
  const parts = splitCommands(command);
  if (parts === null) return true;
  return parts.some((tokens) => simpleTransforms(tokens.filter((t) => !t.redirect), depth));
}

function simpleTransforms(words: Token[], depth: number): boolean {
  while (words.length && ASSIGNMENT.test(words[0].value)) words = words.slice(1);
  if (!words.length) return false;
  const [head, ...rest] = words;
  const prog = head.value.replace(/^.*\//, "");
  const args = rest.map((t) => t.value);
  if (isWrapper(prog)) {
    const w = unwrap(prog, rest);
    if ("kind" in w) return true;
    // xargs -n/-L/-s reshapes its input into lines of its own: "4111 1111 …" one group per line
    if (prog === "xargs" && args.some((a) => /^(-[nLls]|--max-(args|lines|chars))/.test(a))) return true;
    return simpleTransforms(w.inner, depth);
  }
  if (SHELLS.has(prog)) {
    const c = args.findIndex((a) => /^-[a-zA-Z]*c[a-zA-Z]*$/.test(a)); // -c, -lc, -ec
    return c >= 0 && transformsOutput(args[c + 1] ?? "", depth + 1);
  }
  if (prog === "sudo" || prog === "doas" || prog === "watch") return simpleTransforms(rest.slice(commandStart(prog, args)), depth);
  if (prog === "find") return findExecs(rest).some((inner) => simpleTransforms(inner, depth));
  if (ALWAYS.has(prog)) return true;
  if (COMPRESSORS.has(prog)) return !args.some((a) => /^-[a-zA-Z]*[dtl]|^--(decompress|test|list)$/.test(a));
  switch (prog) {
    case "cut":
      return true;
    case "head":
    case "tail":
      return args.some((a) => /^-[a-zA-Z]*c|^--bytes/.test(a));
    case "grep":
    case "egrep":
    case "fgrep":
    case "zgrep":
    case "rg":
      return args.some((a) => /^-[a-zA-Z]*o|^--only-matching$/.test(a));
    case "sed":
      return !sedScripts(args).every((s) => SED_SELECT.test(s));
    case "jq":
      return !jqFilterIsPath(args);
    case "column":
      // fills columns word by word ("4111" and "1111" on different lines); -t keeps each line a row
      return !args.some((a) => /^-[a-zA-Z]*t|^--table$/.test(a));
    case "pr":
      return args.some((a) => /^-\d|^--columns/.test(a));
    case "tar":
      return /^-?[a-zA-Z]*[cru]/.test(args[0] ?? "") || args.some((a) => /^--(create|append|update)$/.test(a));
  }
  return false;
}

/** Index in `args` of the command sudo, doas or watch run: past their options and option values. */
function commandStart(prog: string, args: string[]): number {
  const valued = prog === "watch" ? /^-[nd]$|^--(interval|differences)$/ : /^-[ugUCDhprtT]$|^--(user|group|other-user|close-from|chdir|host|prompt|role|type)$/;
  let i = 0;
  while (i < args.length && args[i].startsWith("-")) i += valued.test(args[i]) ? 2 : 1;
  return i;
}

/** The commands `find -exec …;` / `-execdir` / `-ok` / `-okdir` run. */
function findExecs(words: Token[]): Token[][] {
  const found: Token[][] = [];
  for (let i = 0; i < words.length; i++) {
    if (!/^-(exec|execdir|ok|okdir)$/.test(words[i].value)) continue;
    const end = words.findIndex((t, k) => k > i && (t.value === ";" || t.value === "+"));
    found.push(words.slice(i + 1, end < 0 ? words.length : end));
  }
  return found;
}

/** sed's scripts: the values of -e/--expression, else the first operand. */
function sedScripts(args: string[]): string[] {
  const scripts: string[] = [];
  let operand: string | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "-e" || a === "--expression") scripts.push(args[++i] ?? "");
    else if (a.startsWith("--expression=")) scripts.push(a.slice(13));
    else if (/^-[a-zA-Z]*e./.test(a)) scripts.push(a.slice(a.indexOf("e") + 1));
    else if (a === "-f" || a === "--file" || a.startsWith("--file=")) return ["?"]; // a script we do not see
    else if (!a.startsWith("-") && operand === null) operand = a;
  }
  return scripts.length ? scripts : [operand ?? ""];
}

function jqFilterIsPath(args: string[]): boolean {
  const filter = args.find((a) => !a.startsWith("-"));
  if (args.some((a) => /^-[a-zA-Z]*f$|^--from-file$|^--(arg|argjson|slurpfile|rawfile|args|jsonargs)$/.test(a))) return false;
  return filter === undefined || JQ_PATH.test(filter);
}
