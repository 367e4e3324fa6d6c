import { spawnSync } from "node:child_process";

/**
 * An upstream login whose ~/.bashrc sets CDPATH, as some people's does: its own account, so that
 * no other test's `cd` goes elsewhere. Start the sshd with
 * `extraConfig: [\`AllowUsers ${CDPATH_USER.name}\`]` and log in with its password. Idempotent
 * like ensureHomeUser (ssh-home-user.ts); needs root.
 */
export const CDPATH_USER = { name: "gh-ssh-cdpath", password: "gh-ssh-cdpath-Pw-5190" } as const;

export function ensureCdpathUser() {
  const exists = () => spawnSync("id", ["-u", CDPATH_USER.name], { stdio: "ignore" }).status === 0;
  if (!exists()) {
    const r = spawnSync("useradd", ["-m", "-s", "/bin/bash", CDPATH_USER.name], { encoding: "utf8" });
    if (r.status !== 0 && r.status !== 9 && !exists()) throw new Error(`useradd ${CDPATH_USER.name} failed: ${r.stderr}`);
  }
  for (let i = 0; ; i++) {
    const r = spawnSync("chpasswd", ["-c", "SHA512"], { input: `${CDPATH_USER.name}:${CDPATH_USER.password}\n`, encoding: "utf8" });
    if (r.status === 0) return;
    if (i >= 20) throw new Error(`chpasswd for ${CDPATH_USER.name} failed: ${r.stderr}`);
    spawnSync("sleep", ["0.1"]);
  }
}
