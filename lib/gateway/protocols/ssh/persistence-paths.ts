/**
 * Files whose change makes the host run code later, or lets someone log in: `~/.ssh`
 * (authorized_keys opens a door that skips Gatehouse; rc and environment run at every login),
 * shell startup files, git hooks and config (core.fsmonitor, core.pager run commands), user
 * systemd units and autostart entries, cron spools, and the system's own directories. A write
 * there is not an ordinary write: it is classified `admin`, which the default policies hold for
 * approval.
 *
 * The path is read as the kernel would reach it, as far as that can be known from the text:
 * `//`, `/./` and `a/..` are folded; `~`, `~user`, `~+` (the working directory), `$HOME`,
 * `${HOME}` and `/home/USER` are a home directory (a relative path starts in one: SFTP's and
 * exec's working directory); a path that climbs out with `..` may end anywhere above, so it is
 * judged as every place it could reach; `/proc/PID/root` is `/` and `/proc/PID/cwd` the working
 * directory. A glob (`.ss?`) matches what it could match, and a variable (`$D/k`) can be
 * anything: a write through one is judged a persistence write. What the text cannot show are
 * names that come from elsewhere (an archive's members, a directory's contents copied into
 * another): see isPersistenceAncestor. A symlink that already exists upstream, and a home outside
 * /home, are for the host to tell: see upstream-paths.ts.
 */
const STARTUP_FILES = (
  ".bashrc .bash_profile .bash_login .bash_logout .profile .zshrc .zshenv .zprofile .zlogin .zlogout .cshrc .tcshrc " +
  ".login .logout .kshrc .mkshrc .xprofile .xinitrc .xsession .xsessionrc .pam_environment .forward .gitconfig " +
  ".npmrc .pypirc .curlrc .wgetrc .vimrc .exrc .lesskey .inputrc .Xresources .screenrc .tmux.conf .ssh " +
  // sourced by the startup files (Debian's .bashrc reads .bash_aliases), or run by tools the user
  // runs later: editors' init, Mercurial hooks, kubectl exec and AWS credential_process plugins,
  // docker credential helpers, gpg-agent's pinentry-program
  ".bash_aliases .bashrc.d .vim .emacs .emacs.d .hgrc .kube .aws .docker .gnupg"
).split(" ");

/** Directories (as path segments, anywhere in the path) where what is written runs, or is trusted, later. */
const CODE_DIRS: readonly (readonly string[])[] = [
  [".git", "hooks"], [".git", "config"], [".config", "systemd"], [".config", "autostart"], [".config", "git"], [".config", "fish"],
  [".config", "nvim"], [".config", "environment.d"],
];
/** The same, only in a home directory: on its PATH, or Python's user site (a `.pth` file there runs at every start). */
const HOME_DIRS: readonly (readonly string[])[] = [["bin"], [".local", "bin"], [".local", "lib"]];

/** The system's own configuration and code, from `/`. */
const SYSTEM: readonly (readonly string[])[] = [
  "etc", "usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "boot", "root", "var/spool/cron", "var/spool/at", "var/lib/systemd", "run/systemd",
].map((p) => p.split("/"));

/** Where a path may be: from `/`, from a home directory, or from a directory nobody knows. */
type Place = { from: "root" | "home" | "anywhere"; segments: string[] };

export interface PathOptions {
  /** the shell expands this word (a glob, a variable): `value` is only its spelling */
  dynamic?: boolean;
  /**
   * The upstream login's home directories as absolute paths (learned from the host): a home
   * outside /home/USER (`/srv/app`, `/var/lib/jenkins`) holds the same persistence paths.
   */
  homes?: readonly string[];
}

export function isPersistencePath(written: string, opts: PathOptions = {}): boolean {
  const value = optionValue(written);
  if (opts.dynamic && hasVariable(value)) return true; // `$D/k`: any path at all
  const match = matcher(opts.dynamic === true);
  // As written too: `x/.ssh/../y` goes through .ssh when x/.ssh is a symlink somewhere else.
  if (hasSegments(value.split("/"), match)) return true;
  return placesOf(value, opts.homes).some((p) => {
    if (hasSegments(p.segments, match)) return true;
    if (p.from === "root") return SYSTEM.some((dir) => startsWith(p.segments, dir, match));
    if (p.from === "home") return HOME_DIRS.some((dir) => startsWith(p.segments, dir, match));
    return false;
  });
}

/**
 * A directory above persistence paths: `/`, `/var`, a home directory (`~`, `.`, `/home/USER`), a
 * path climbing out with `..` to one of them, `.git`, `.config`, `~/.local`. A link to one (`ln -s / r`, then `r/etc/cron.d/x`)
 * or a write into one whose names come from elsewhere (`cp -rT stage ~`, `tar x` in the home
 * directory, a legacy `scp -t .`) reaches persistence paths the text never names.
 */
export function isPersistenceAncestor(written: string, opts: PathOptions = {}): boolean {
  const value = optionValue(written);
  if (opts.dynamic && hasVariable(value)) return true;
  const match = matcher(opts.dynamic === true);
  // A directory that holds a code directory: `.git` (hooks), `.config` (systemd, autostart, …).
  const holdsCode = (segments: string[]) => segments.length > 0 && CODE_DIRS.some((dir) => dir.length > 1 && match(segments[segments.length - 1], dir[0]));
  return placesOf(value, opts.homes).some((p) => {
    if (holdsCode(p.segments)) return true;
    if (p.from !== "root") return p.from === "home" && (p.segments.length === 0 || HOME_DIRS.some((dir) => dir.length > p.segments.length && p.segments.every((s, i) => match(s, dir[i]))));
    // `/`, `/home`, `/home/USER`, and what leads to the system's directories (`/var`, `/var/spool`)
    const above = (dir: readonly string[]) => dir.length > p.segments.length && p.segments.every((s, i) => match(s, dir[i]));
    return p.segments.length === 0 || (p.segments.length <= 2 && match(p.segments[0], "home")) || SYSTEM.some(above);
  });
}

/** `dd of=…`, `--target-directory=…`: the path after the option's "=". */
function optionValue(written: string): string {
  return written.replace(/^-{0,2}[A-Za-z][\w-]*=/, "");
}

/** A variable other than the home directory's. */
function hasVariable(value: string): boolean {
  return /\$/.test(value.replace(/^(\$HOME|\$\{HOME\})(?=\/|$)/, ""));
}

/** The places a path may name, its segments folded (`.` dropped, `a/..` removed). */
function placesOf(value: string, homes: readonly string[] = []): Place[] {
  const raw = value.split("/");
  let from: Place["from"] = "home"; // a relative path starts in the working directory: a home directory
  if (value.startsWith("/")) from = "root";
  else if (/^(~[\w.+-]*|\$HOME|\$\{HOME\})$/.test(raw[0])) raw.shift();
  const { segments, climbs } = fold(raw);
  if (from === "root") return fromRoot(segments, homes);
  if (climbs === 0) return [{ from: "home", segments }];
  // `../../x` from an unknown depth: x under `/`, under a home directory, or under /home (another user's home).
  const places: Place[] = [...fromRoot(segments, homes), { from: "home", segments }, { from: "anywhere", segments }];
  return segments.length > 1 ? [...places, { from: "home", segments: segments.slice(1) }] : places;
}

/**
 * An absolute path, and what it is besides: /home/USER/… and a home the host named are a home
 * directory, /proc/PID/root is `/`.
 */
function fromRoot(segments: string[], homes: readonly string[]): Place[] {
  const places: Place[] = [{ from: "root", segments }];
  if (segments[0] === "home" && segments.length >= 2) places.push({ from: "home", segments: segments.slice(2) });
  for (const home of homes) {
    const h = fold(home.split("/")).segments;
    if (h.length <= segments.length && h.every((s, i) => s === segments[i])) places.push({ from: "home", segments: segments.slice(h.length) });
  }
  if (segments[0] === "proc" && segments.length >= 3 && segments[2] === "root") places.push(...fromRoot(segments.slice(3), homes));
  if (segments[0] === "proc" && segments.length >= 3 && segments[2] === "cwd") places.push({ from: "home", segments: segments.slice(3) }, { from: "anywhere", segments: segments.slice(3) });
  return places;
}

function fold(raw: string[]): { segments: string[]; climbs: number } {
  const segments: string[] = [];
  let climbs = 0;
  for (const s of raw) {
    if (!s || s === ".") continue;
    if (s !== "..") segments.push(s);
    else if (segments.length) segments.pop();
    else climbs++;
  }
  return { segments, climbs };
}

type Match = (segment: string, name: string) => boolean;

/** Equality, or for a word the shell expands, whether its glob could match the name. */
function matcher(glob: boolean): Match {
  return (segment, name) => segment === name || (glob && /[*?[]/.test(segment) && globRegExp(segment).test(name));
}

/** Whether the shell's glob `pattern` (one path segment) matches `name`. */
export const globMatches = (pattern: string, name: string) => globRegExp(pattern).test(name);

function globRegExp(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i];
    const close = c === "[" ? segment.indexOf("]", i + 2) : -1;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (close > 0) {
      const body = segment.slice(i + 1, close).replace(/^!/, "^").replace(/\\/g, "\\\\");
      re += `[${body}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    // A leading "." is matched only by a "." written there (without dotglob, as the shell has it).
    return new RegExp(`^${segment.startsWith(".") ? "" : "(?!\\.)"}${re}$`);
  } catch {
    return /^/; // a class the engine cannot read: it may match anything
  }
}

function hasSegments(segments: string[], match: Match): boolean {
  if (segments.some((s) => STARTUP_FILES.some((f) => match(s, f)))) return true;
  return CODE_DIRS.some((dir) => segments.some((_, i) => dir.every((d, j) => i + j < segments.length && match(segments[i + j], d))));
}

function startsWith(segments: readonly string[], prefix: readonly string[], match: Match): boolean {
  return prefix.length <= segments.length && prefix.every((p, i) => match(segments[i], p));
}
