import { describe, expect, it } from "vitest";
import { classifyCommand } from "./classify";
import { isPersistenceAncestor, isPersistencePath } from "./persistence-paths";

/**
 * Persistence paths reached by another name than the one written: folded, climbed to, globbed,
 * through /proc, another user's home, or a link or a copy into a directory above them.
 */
describe("persistence paths by another name", () => {
  it("folds and resolves the path before judging it", () => {
    for (const p of [
      "x/../bin/ls", "a/b/../../.local/bin/x", "~+/bin/ls", "~-/.local/bin/x", "~gh/bin/ls", "${HOME}/bin/ls", "~gh-ssh-test/.local/bin/x", "/home/gh/bin/ls", "/home//gh/./bin/ls",
      "../../etc/cron.d/job", "../../../usr/local/bin/x", "../other/bin/ls", "/proc/self/root/etc/cron.d/x", "/proc/1/root/usr/bin/x", "/proc/self/cwd/bin/ls",
    ]) expect(isPersistencePath(p), p).toBe(true);
    for (const p of ["../notes.txt", "../project/src/a.ts", "/home/gh/data/x.csv", "/proc/self/status", "x/../notes", "src/lib/a.js"]) expect(isPersistencePath(p), p).toBe(false);
  });

  it("knows the files the startup files source and the plugins tools run", () => {
    for (const p of ["~/.bash_aliases", ".bashrc.d/x.sh", ".vim/plugin/x.vim", ".emacs.d/init.el", ".hgrc", ".kube/config", ".aws/config", ".docker/config.json", ".gnupg/gpg-agent.conf", ".config/nvim/init.lua", ".local/lib/python3.11/site-packages/x.pth"]) {
      expect(isPersistencePath(p), p).toBe(true);
    }
    expect(isPersistencePath("project/.local/lib/x")).toBe(false);
  });

  it("a glob that could match a persistence name matches it; a variable may be anything", () => {
    for (const p of ["~/.ss?/authorized_keys", "~/.[s]sh/authorized_keys", "~/.bash*", "repo/.git/hoo*/pre-commit", "/e*/cron.d/x", "b?n/ls"]) expect(isPersistencePath(p, { dynamic: true }), p).toBe(true);
    expect(isPersistencePath("$D/k", { dynamic: true })).toBe(true);
    expect(isPersistencePath("$HOME/notes", { dynamic: true })).toBe(false);
    for (const p of ["*.log", "logs/*.txt", "/tmp/x?.csv"]) expect(isPersistencePath(p, { dynamic: true }), p).toBe(false);
    // the same text quoted is not a glob
    expect(isPersistencePath("~/.ss?/authorized_keys")).toBe(false);
  });

  it("knows the directories above persistence paths", () => {
    for (const p of ["/", "//", "~", "~/", ".", "", "$HOME", "~root", "/home", "/home/gh", "/home/gh/", "/var", "/var/spool", "/run", "..", "../..", "/proc/self/root", "/proc/self/cwd", "/usr/local/../..", "repo/.git", "~/.config", "/srv/app/.git/", ".local", "/home/gh/.local"]) expect(isPersistenceAncestor(p), p).toBe(true);
    for (const p of ["/tmp", "/tmp/x", "project", "/home/gh/project", "/var/log", "../notes.txt", "/srv/app", "repo/.gitignore", "project/.local"]) expect(isPersistenceAncestor(p), p).toBe(false);
  });

  it("exec lines that reach a persistence path by another name are admin", () => {
    for (const line of [
      "ln -s / r", "ln -s /home/gh h", "ln -s ~ h", "ln -s .. up", "ln -sf /proc/self/root r", "ln -s ../.. r",
      "cp x ../../etc/cron.d/job", "cp x ~/.ss?/authorized_keys", "cp x ~/.[s]sh/authorized_keys", "cp x x/../bin/ls", "cp x ~gh/bin/ls",
      "cp x ${HOME}/bin/ls", "cp x /home/gh/bin/ls", "cp x /proc/self/root/etc/cron.d/x", "D=~/.ssh; cp x $D/k",
      "cp -rT stage ~", "cp -r stage/. ~/", "mv stage/* ~", "tar xf payload.tar", "tar -xzf payload.tgz -C ~", "tar --extract --file=p.tar --directory=/",
      "printf %s ~/.bashrc | xargs -0 tee -a", "echo /etc | xargs -I{} cp /tmp/k {}/cron.d/x", "echo bin | xargs -I@ cp k @/ls",
      "scp -t .", "rsync --server -logDtpre.iLsfxC . ~/", "mv stage ~/.config", "cp -r hooks/. repo/.git", "tar xf t.tar -C ~/.local",
    ]) expect(classifyCommand(line).kind, line).toBe("admin");
  });

  it("git config that sets something writes a file that runs commands later: admin; reading stays a read", () => {
    for (const line of ["git config core.hooksPath /tmp/h", "git config core.fsmonitor ./evil", "git config --global core.pager 'sh -c x'", "git -C repo config alias.st '!sh -c x'", "git config --add core.sshCommand x", "git config set core.pager x", "git config --file .git/config core.editor x", "git config --unset core.pager"]) {
      expect(classifyCommand(line).kind, line).toBe("admin");
    }
    for (const line of ["git config --get user.name", "git config -l", "git config --list --show-origin", "git config user.email", "git config get core.pager", "git config --file x.cfg --get a.b"]) expect(classifyCommand(line).kind, line).toBe("read");
    expect(classifyCommand("git config -e").kind).toBe("unknown");
  });

  it("a write's relative paths are read from env -C's directory, and from cd's (write-targets.test.ts)", () => {
    for (const line of ["env -C / cp x etc/cron.d/x", "env --chdir=/home/gh cp x bin/ls", "env -C ~/.ssh tee -a authorized_keys", "nice env -C / cp -rT stage home/gh"]) expect(classifyCommand(line).kind, line).toBe("admin");
    expect(classifyCommand("env -C /tmp cp a b").kind).toBe("write");
    expect(classifyCommand("cd ~/.ssh && echo x >> authorized_keys").kind).toBe("admin");
    expect(classifyCommand("pushd .ssh; cp x k").kind).toBe("unknown");
  });

  it("ordinary writes stay writes", () => {
    for (const line of ["cp a.txt b.txt", "ln -s ../shared/config.yml config.yml", "ln -s /opt/app/current app", "tar xf a.tar -C /tmp/unpack", "tar czf out.tgz src", "rm -f *.log", "rsync --server -logDtpre.iLsfxC . /srv/app/", "mv build/* /srv/app/", "cp x ../notes.txt", "scp -t notes.txt"]) {
      expect(classifyCommand(line).kind, line).toBe("write");
    }
  });
});
