import { spawnSync } from "node:child_process";

/** An extra upstream login for the test sshd: its name, password, and a home other than /home/<name> if set. */
export interface Login {
  name: string;
  password: string;
  home?: string;
}

/**
 * Creates `login` when missing (useradd -m, bash) and sets its password. Start the sshd with
 * `extraConfig: [\`AllowUsers ${login.name}\`]` (AllowUsers lines add up) and log in with that
 * password. Idempotent like ensureTestUser in sshd.ts, and safe when several test workers call
 * it at once: useradd's "already exists" (exit 9) counts as success, and chpasswd retries while
 * another one holds /etc/shadow's lock. Needs root.
 */
export function ensureLogin(login: Login) {
  const exists = () => spawnSync("id", ["-u", login.name], { stdio: "ignore" }).status === 0;
  if (!exists()) {
    const r = spawnSync("useradd", ["-m", ...(login.home ? ["-d", login.home] : []), "-s", "/bin/bash", login.name], { encoding: "utf8" });
    if (r.status !== 0 && r.status !== 9 && !exists()) throw new Error(`useradd ${login.name} failed: ${r.stderr}`);
  }
  for (let i = 0; ; i++) {
    const r = spawnSync("chpasswd", ["-c", "SHA512"], { input: `${login.name}:${login.password}\n`, encoding: "utf8" });
    if (r.status === 0) return;
    if (i >= 20) throw new Error(`chpasswd for ${login.name} failed: ${r.stderr}`);
    spawnSync("sleep", ["0.1"]);
  }
}

/**
 * A second upstream login whose home directory is not under /home (`/srv/gh-ssh-home2`), as
 * service accounts have (`/var/lib/jenkins`, `/srv/app`): see ensureLogin.
 */
export const HOME_USER = { name: "gh-ssh-home2", home: "/srv/gh-ssh-home2", password: "gh-ssh-home2-Pw-7312" } as const;

export function ensureHomeUser() {
  ensureLogin(HOME_USER);
}
