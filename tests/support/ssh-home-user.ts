import { spawnSync } from "node:child_process";

/**
 * A second upstream login whose home directory is not under /home (`/srv/gh-ssh-home2`), as
 * service accounts have (`/var/lib/jenkins`, `/srv/app`): start the sshd with
 * `extraConfig: [\`AllowUsers ${HOME_USER.name}\`]` (AllowUsers lines add up) and log in with
 * its password. Idempotent like ensureTestUser in sshd.ts; needs root.
 */
export const HOME_USER = { name: "gh-ssh-home2", home: "/srv/gh-ssh-home2", password: "gh-ssh-home2-Pw-7312" } as const;

export function ensureHomeUser() {
  const exists = () => spawnSync("id", ["-u", HOME_USER.name], { stdio: "ignore" }).status === 0;
  if (!exists()) {
    const r = spawnSync("useradd", ["-m", "-d", HOME_USER.home, "-s", "/bin/bash", HOME_USER.name], { encoding: "utf8" });
    if (r.status !== 0 && r.status !== 9 && !exists()) throw new Error(`useradd ${HOME_USER.name} failed: ${r.stderr}`);
  }
  for (let i = 0; ; i++) {
    const r = spawnSync("chpasswd", ["-c", "SHA512"], { input: `${HOME_USER.name}:${HOME_USER.password}\n`, encoding: "utf8" });
    if (r.status === 0) return;
    if (i >= 20) throw new Error(`chpasswd for ${HOME_USER.name} failed: ${r.stderr}`);
    spawnSync("sleep", ["0.1"]);
  }
}
