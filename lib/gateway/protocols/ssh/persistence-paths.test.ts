import { describe, expect, it } from "vitest";
import { isPersistencePath } from "./persistence-paths";

describe("isPersistencePath", () => {
  it("knows where a write makes the host run code later or lets someone in", () => {
    for (const p of [
      ".ssh/authorized_keys", "~/.ssh/authorized_keys", "/home/dev/.ssh/rc", ".ssh", "./.ssh/environment", "x/../.ssh/authorized_keys",
      ".bashrc", "~/.profile", "/root/.bashrc", ".zshenv", ".gitconfig", ".pam_environment",
      "repo/.git/hooks/pre-commit", ".git/config", ".config/systemd/user/evil.service", ".config/autostart/x.desktop",
      "bin/ls", "~/bin/ls", ".local/bin/git", "$HOME/bin/x",
      "/etc/cron.d/x", "/etc/sudoers.d/me", "/usr/local/bin/x", "/var/spool/cron/crontabs/root", "//etc/passwd",
      "of=.ssh/authorized_keys", "--target-directory=/etc/profile.d",
    ]) expect(isPersistencePath(p), p).toBe(true);
  });
  it("leaves ordinary files alone", () => {
    for (const p of ["notes.txt", "/tmp/out.log", "project/src/main.go", "project/bin/app", "/home/dev/data/export.csv", "/var/log/app.log", "my.ssh.txt", ".sshx/file", "/opt/app/config.yml", "etcetera/x"]) {
      expect(isPersistencePath(p), p).toBe(false);
    }
  });
});
