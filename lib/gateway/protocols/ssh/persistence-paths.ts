/**
 * Files whose change makes the host run code later, or lets someone log in: `~/.ssh`
 * (authorized_keys opens a door that skips Gatehouse; rc and environment run at every login),
 * shell startup files, git hooks and config (core.fsmonitor, core.pager run commands), user
 * systemd units and autostart entries, cron spools, and the system's own directories. A write
 * there is not an ordinary write: it is classified `admin`, which the default policies hold for
 * approval. Judged on the path as written: a symlink elsewhere that points here is not seen.
 */
const STARTUP_FILES = new Set(
  (
    ".bashrc .bash_profile .bash_login .bash_logout .profile .zshrc .zshenv .zprofile .zlogin .zlogout .cshrc .tcshrc " +
    ".login .logout .kshrc .mkshrc .xprofile .xinitrc .xsession .xsessionrc .pam_environment .forward .gitconfig " +
    ".npmrc .pypirc .curlrc .wgetrc .vimrc .exrc .lesskey .inputrc .Xresources .screenrc .tmux.conf .ssh"
  ).split(" "),
);

/** Directories (as path segments, anywhere in the path) where what is written runs, or is trusted, later. */
const CODE_DIRS: readonly (readonly string[])[] = [[".git", "hooks"], [".git", "config"], [".config", "systemd"], [".config", "autostart"], [".config", "git"], [".config", "fish"]];
/** The same, only in the home directory (a relative path starts there): they are on its PATH. */
const HOME_DIRS: readonly (readonly string[])[] = [["bin"], [".local", "bin"]];

/** Absolute prefixes of the system's own configuration and code. */
const SYSTEM = /^\/+(etc|usr|bin|sbin|lib|lib32|lib64|libx32|boot|root|var\/spool\/cron|var\/spool\/at|var\/lib\/systemd|run\/systemd)(\/|$)/;

export function isPersistencePath(written: string): boolean {
  // `dd of=…`, `--target-directory=…`: the path after the option's "=".
  const value = written.replace(/^-{0,2}[A-Za-z][\w-]*=/, "");
  if (SYSTEM.test(value)) return true;
  const segments = value.split("/").filter((s) => s && s !== ".");
  if (segments.some((s) => STARTUP_FILES.has(s))) return true;
  if (CODE_DIRS.some((dir) => segments.some((_, i) => dir.every((d, j) => segments[i + j] === d)))) return true;
  const home = value.startsWith("/") ? null : segments[0] === "~" || segments[0] === "$HOME" ? segments.slice(1) : segments;
  return !!home && HOME_DIRS.some((dir) => dir.every((d, j) => home[j] === d));
}
